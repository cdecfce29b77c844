/**
 * File modes of the data directory (docs/operations.md, "Data directory"): the databases
 * hold every command an agent asked to run and who allowed it, so they are readable by
 * their owner only (0600), and so are SQLite's `-wal` and `-shm` files, which SQLite
 * creates later with the mode of the database file (hence: make that file first, 0600).
 * A data directory that others may enter gets a warning, not a refusal: it may be a
 * choice (a shared machine's admin), and the files inside stay 0600 either way.
 */
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Before SQLite opens `path`: create it 0600 if missing, and tighten it and its
 *  `-wal`/`-shm` companions if they exist with a looser mode (an older install). */
export function preparePrivateDbFile(path: string): void {
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE)); // the mode applies only if it creates
  tightenDbFiles(path);
}

/** Tighten the database file and its companions to 0600 (those that exist). */
export function tightenDbFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      if ((statSync(file).mode & 0o777) !== PRIVATE_FILE_MODE) chmodSync(file, PRIVATE_FILE_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** A warning to log when the data directory is looser than 0700, else undefined. */
export function dataDirWarning(dir: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(dir).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  return `the data directory ${dir} has mode ${mode.toString(8).padStart(4, '0')}: other users may list it; chmod 700 it (its files are kept 0600)`;
}
