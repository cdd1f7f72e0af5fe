/**
 * A snapshot of every file under a directory: path → sha256, mode, uid, gid (and link targets).
 * Tests compare snapshots before and after to prove "nothing changed" or "back byte for byte".
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

export type Snapshot = Record<string, string>;

export function snapshotTree(root: string, opts: { exclude?: RegExp } = {}): Snapshot {
  const out: Snapshot = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const rel = relative(root, p);
      if (opts.exclude?.test(rel)) continue;
      const st = lstatSync(p);
      const meta = `mode=${(st.mode & 0o7777).toString(8)} uid=${st.uid} gid=${st.gid}`;
      if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(p)} ${meta}`;
      else if (st.isDirectory()) {
        out[`${rel}/`] = `dir ${meta}`;
        walk(p);
      } else if (st.isFile()) out[rel] = `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${meta}`;
    }
  };
  walk(root);
  return out;
}
