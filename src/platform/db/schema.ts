// Row types of the tables, for Kysely. Kept beside the migrations' truth:
// a column added in migrations/ is added here in the same change.
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export interface UsersTable {
  id: Generated<string>;
  email: string;
  name: string;
  password_hash: string;
  role: Generated<'user' | 'admin'>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  /** Set when the account was deleted: the row is anonymised then, and removed by the retention sweep later. */
  deleted_at: Date | null;
}

export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  revoked_at: Date | null;
}

export type Visibility = 'public' | 'unlisted' | 'private';

export interface EventsTable {
  id: Generated<string>;
  slug: string;
  owner_id: string;
  title: string;
  description: Generated<string>;
  venue: Generated<string>;
  starts_at: Timestamp;
  ends_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  capacity: number | null;
  visibility: Visibility;
  /** IANA name; the clock its times are shown and typed on. */
  time_zone: Generated<string>;
  /** One of the event's own ready photos, chosen by its host; null when the photo is deleted. */
  cover_photo_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface BookingsTable {
  id: Generated<string>;
  event_id: string;
  user_id: string;
  status: 'confirmed' | 'cancelled';
  created_at: CreatedAt;
  cancelled_at: Date | null;
}

export interface EventPlacesTable {
  event_id: string;
  place_no: number;
  booking_id: string | null;
}

/** An event's confirmed bookings in stripes kept by a trigger on bookings (migration 0010); the count is the sum. */
export interface EventBookingCountsTable {
  event_id: string;
  stripe: number;
  booked: number;
}

/** An event's ready photos, striped like the booked counts (migration 0017, decision 0063): the count is the sum. */
export interface EventPhotoCountsTable {
  event_id: string;
  stripe: number;
  ready: number;
}

/** A revocable invite link to an event (migration 0012): only the sha256 of its token is stored. */
export interface EventInvitesTable {
  id: Generated<string>;
  event_id: string;
  token_hash: Buffer;
  created_by: string | null;
  created_at: CreatedAt;
  expires_at: Date | null;
  revoked_at: Date | null;
}

/** A password reset link (migration 0013): only the sha256 of its token is stored; used once, then `used_at`. */
export interface PasswordResetsTable {
  id: Generated<string>;
  user_id: string;
  token_hash: Buffer;
  created_at: CreatedAt;
  expires_at: Date;
  used_at: Date | null;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  events: EventsTable;
  bookings: BookingsTable;
  event_places: EventPlacesTable;
  event_booking_counts: EventBookingCountsTable;
  event_photo_counts: EventPhotoCountsTable;
  event_invites: EventInvitesTable;
  password_resets: PasswordResetsTable;
  jobs: JobsTable;
  job_schedules: JobSchedulesTable;
  audit_log: AuditLogTable;
  photos: PhotosTable;
  exports: ExportsTable;
  feature_flags: FeatureFlagsTable;
  stats_daily: StatsDailyTable;
  stats_totals: StatsTotalsTable;
  integrity_runs: IntegrityRunsTable;
  backup_drills: BackupDrillsTable;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'dead';

export interface JobsTable {
  id: Generated<string>;
  name: string;
  // Written as JSON text: pg would turn a top-level array into a PostgreSQL array.
  payload: ColumnType<unknown, string, string>;
  status: Generated<JobStatus>;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  run_at: Generated<Date>;
  locked_by: string | null;
  locked_until: Date | null;
  last_error: string | null;
  key: string | null;
  trace: ColumnType<Record<string, string> | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface JobSchedulesTable {
  name: string;
  cron: string;
  next_run_at: Date;
  last_run_at: Date | null;
}

export interface AuditLogTable {
  id: string;
  at: CreatedAt;
  action: string;
  actor_id: string | null;
  subject_type: string;
  subject_id: string;
  request_id: string | null;
  metadata: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export type PhotoStatus = 'processing' | 'ready' | 'failed';

export interface PhotosTable {
  id: Generated<string>;
  event_id: string;
  uploader_id: string | null;
  status: Generated<PhotoStatus>;
  original_key: string;
  thumbnail_key: string | null;
  display_key: string | null;
  content_type: string;
  bytes: number;
  sha256: string | null;
  width: number | null;
  height: number | null;
  orientation: number | null;
  taken_at: Date | null;
  failure_reason: string | null;
  /** The uploader chose to share where it was taken: the original keeps its location (decision 0037). */
  location_shared: Generated<boolean>;
  created_at: CreatedAt;
  ready_at: Date | null;
}

export type ExportStatus = 'queued' | 'running' | 'ready' | 'failed';

export interface ExportsTable {
  id: Generated<string>;
  requester_id: string | null;
  event_id: string | null;
  status: Generated<ExportStatus>;
  object_key: string | null;
  bytes: number | null;
  error: string | null;
  created_at: CreatedAt;
  ready_at: Date | null;
  expires_at: Date | null;
}

export interface FeatureFlagsTable {
  name: string;
  enabled: Generated<boolean>;
  rollout_percentage: Generated<number>;
  // Written as JSON text, like jobs.payload.
  metadata: ColumnType<Record<string, unknown>, string | undefined, string>;
  description: string | null;
  updated_at: Timestamp;
  updated_by: string | null;
  state_since: Timestamp;
}

export interface BackupDrillsTable {
  id: Generated<string>;
  backup_id: string;
  ran_at: CreatedAt;
  ok: boolean;
  duration_ms: number;
  // Written as JSON text, like jobs.payload.
  report: ColumnType<Record<string, unknown>, string, never>;
}

export interface StatsDailyTable {
  /** A UTC day. pg would read a date as local midnight: select it as to_char(day, 'YYYY-MM-DD'). */
  day: string;
  signups: number;
  bookings: number;
  uploads: number;
  computed_at: Date;
}

export interface StatsTotalsTable {
  id: Generated<boolean>;
  users: number;
  events: number;
  bookings: number;
  photos: number;
  storage_bytes: number;
  computed_at: Date;
}

export interface IntegrityRunsTable {
  id: Generated<string>;
  ran_at: CreatedAt;
  ok: boolean;
  // Written as JSON text, like jobs.payload.
  problems: ColumnType<Record<string, unknown>, string, never>;
}
