/**
 * Files on the controller (the machine running fleetplay): `copy src:` reads them, `fetch`
 * writes them. Writes are atomic (temp file in the same directory with its final mode, fsync,
 * rename), so a fetched key is never world-readable, not even for a moment.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

/** The file's bytes, or null when it does not exist. */
export async function readControllerFile(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export async function controllerIsDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Write atomically, creating parent directories (0700) as needed. */
export async function writeControllerFileAtomic(path: string, data: Buffer, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function removeControllerFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
