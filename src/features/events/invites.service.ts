import crypto from 'node:crypto';
import { AppError } from '../../platform/http/errors.js';
import { isUuid } from '../../platform/http/pagination.js';
import { parseInstant } from '../../platform/http/validation.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import type { Viewer } from '../accounts/accounts.types.js';
import type { EventsService } from './events.service.js';
import type { InviteRow, InvitesRepository } from './invites.repository.js';
import { isoString } from '../../platform/iso-time.js';

export interface InviteJson {
  id: string;
  eventId: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** Whether the link still lets people in: neither revoked nor expired. */
  active: boolean;
}

/** The token exists only here and in the link: 32 random bytes, base64url. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const hashOf = (token: string) => crypto.createHash('sha256').update(token).digest();

export function toInviteJson(row: InviteRow, now = new Date()): InviteJson {
  return {
    id: row.id,
    eventId: row.event_id,
    createdAt: isoString(row.created_at),
    expiresAt: row.expires_at ? isoString(row.expires_at) : null,
    revokedAt: row.revoked_at ? isoString(row.revoked_at) : null,
    active: row.revoked_at === null && (row.expires_at === null || row.expires_at > now),
  };
}

/** The address of an invite link: the token in the query string, which logs and traces never record (decision 0030). */
export const inviteUrl = (publicUrl: URL, token: string) => new URL(`/invite?token=${token}`, publicUrl).toString();

/**
 * Invite links to private and unlisted events (decision 0030): a capability
 * URL with a long random token, of which only the hash is stored; the host
 * (or an admin) creates, lists and revokes them. Opening one gives the
 * browser a pass (invite-passes.ts) that events.getVisible and the booking
 * statement accept while the invite is active.
 */
export function createInvitesService(deps: {
  repo: InvitesRepository;
  events: Pick<EventsService, 'getManageable' | 'getVisible'>;
  audit: AuditRecorder;
  publicUrl: URL;
}) {
  const { repo, events, audit } = deps;
  const notFound = () =>
    new AppError('not_found', 'This invite link does not work: it was revoked, it expired, or it is not a whole link.');

  return {
    async create(eventId: string, viewer: Viewer, input: { expiresAt?: string | null }): Promise<{ invite: InviteJson; url: string }> {
      const event = await events.getManageable(eventId, viewer);
      if (event.visibility === 'public')
        throw new AppError('conflict', 'A public event is open to everyone: invite links are for private and unlisted events.');
      const expiresAt = input.expiresAt ? parseInstant(input.expiresAt, 'expiresAt') : null;
      if (expiresAt && expiresAt <= new Date())
        throw new AppError('validation_failed', 'The link would have expired already.', {
          details: [{ field: 'expiresAt', problem: 'must be in the future' }],
        });
      const token = crypto.randomBytes(32).toString('base64url');
      // The audit entry names the invite by its id: the token is in no table and no log.
      const row = await repo.insert({ eventId: event.id, tokenHash: hashOf(token), createdBy: viewer.id, expiresAt }, (tx, id) =>
        audit.record(
          { action: 'invite.create', actorId: viewer.id, subjectType: 'event', subjectId: event.id, metadata: { inviteId: id } },
          tx,
        ),
      );
      return { invite: toInviteJson(row), url: inviteUrl(deps.publicUrl, token) };
    },

    async list(eventId: string, viewer: Viewer): Promise<InviteJson[]> {
      const event = await events.getManageable(eventId, viewer);
      const now = new Date();
      return (await repo.listForEvent(event.id, 100)).map((row) => toInviteJson(row, now));
    },

    /**
     * Ends new access through the link. Who booked through it keeps the
     * booking, and with it the event (a booking opens a private event, as
     * before invites); who only opened it loses the event on the next request.
     */
    async revoke(eventId: string, inviteId: string, viewer: Viewer): Promise<void> {
      const event = await events.getManageable(eventId, viewer);
      const revoked =
        isUuid(inviteId) &&
        (await repo.revoke(event.id, inviteId, (tx) =>
          audit.record(
            { action: 'invite.revoke', actorId: viewer.id, subjectType: 'event', subjectId: event.id, metadata: { inviteId } },
            tx,
          ),
        ));
      if (!revoked) throw new AppError('not_found', 'No such active invite link for this event.');
    },

    /** The invite a token opens, while it is active; 404 otherwise, the same for a wrong, revoked or expired token. */
    async open(token: unknown): Promise<InviteRow> {
      if (typeof token !== 'string' || !TOKEN.test(token)) throw notFound();
      const invite = await repo.findActiveByHash(hashOf(token));
      if (!invite) throw notFound();
      return invite;
    },
  };
}

export type InvitesService = ReturnType<typeof createInvitesService>;
