// The actions CONTRACT.md lists; each is recorded exactly once: through the auditLog function, or for
// bookings by the booking's own statement (decision 0047).
export const AUDIT_ACTIONS = [
  'user.signup',
  'user.login',
  'user.delete',
  'user.role_change',
  'user.password_change',
  'event.create',
  'event.update',
  'event.delete',
  'invite.create',
  'invite.revoke',
  'booking.create',
  'booking.cancel',
  'photo.upload',
  'photo.delete',
  'export.request',
  'flag.update',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  action: AuditAction;
  /** Null for the system or an operator's command. */
  actorId: string | null;
  subjectType: 'user' | 'event' | 'booking' | 'photo' | 'export' | 'flag';
  subjectId: string;
  /** Ids and counts only: never a password, an email or an address. */
  metadata?: Record<string, string | number | boolean | null>;
}

export interface AuditEventData extends AuditEntry {
  at: string;
  requestId: string | null;
}
