import type { Visibility } from '../../platform/db/schema.js';

/** An event as the events service hands it out; other features take it from here, never from the repository. */
export interface EventRow {
  id: string;
  slug: string;
  title: string;
  description: string;
  venue: string;
  starts_at: Date;
  ends_at: Date | null;
  capacity: number | null;
  visibility: Visibility;
  time_zone: string;
  /** The cover: one of the event's ready photos (events.cover_photo_id), or null. */
  cover_photo_id: string | null;
  owner_id: string;
  owner_name: string;
  booked_count: number;
  created_at: Date;
  updated_at: Date;
}
