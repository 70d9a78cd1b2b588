// Development's mailbox: each message that would have gone out, one JSON file
// under EPU_DATA_DIR/mailbox, so the web process shows what the worker "sent"
// (/dev/mailbox, served outside staging and production only).
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MailMessage } from './mailer.js';

export interface StoredMail extends MailMessage {
  id: string;
  from: string;
  at: string;
}

/** The newest this many are listed; older files stay on disk until the data directory is cleared. */
const LISTED = 50;
/** Sortable by time, then random: `20261205T183000123Z-1a2b3c4d`. */
const ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

export function createDevMailbox(dir: string) {
  const file = (id: string) => path.join(dir, `${id}.json`);
  const read = async (id: string): Promise<StoredMail | null> => {
    if (!ID.test(id)) return null;
    try {
      return JSON.parse(await fs.readFile(file(id), 'utf8')) as StoredMail;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  };
  return {
    async put(message: MailMessage & { from: string }): Promise<string> {
      const at = new Date();
      const id = `${at.toISOString().replace(/[-:.]/g, '')}-${crypto.randomBytes(4).toString('hex')}`;
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(file(id), JSON.stringify({ ...message, id, at: at.toISOString() } satisfies StoredMail));
      return id;
    },
    read,
    /** Newest first. */
    async list(): Promise<StoredMail[]> {
      const names = await fs.readdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw error;
      });
      const ids = names
        .map((name) => name.replace(/\.json$/, ''))
        .filter((id) => ID.test(id))
        .sort()
        .reverse()
        .slice(0, LISTED);
      return (await Promise.all(ids.map(read))).filter((mail): mail is StoredMail => mail !== null);
    },
  };
}

export type DevMailbox = ReturnType<typeof createDevMailbox>;
