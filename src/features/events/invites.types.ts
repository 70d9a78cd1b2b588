/**
 * The one rule for an invite that still lets people in (not revoked, not
 * expired), as SQL over the `event_invites` row `alias`: the invites
 * repository and the booking statement (bookings.repository.ts) both apply it.
 */
export const INVITE_ACTIVE = (alias: string) =>
  `${alias}.revoked_at IS NULL AND (${alias}.expires_at IS NULL OR ${alias}.expires_at > now())`;
