/**
 * Top frames of a V8 .cpuprofile (node --cpu-prof): self time per function and per file, so the
 * RESULTS can say what dominates fleetplay's controller time.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface Frame {
  name: string;
  selfMs: number;
  pct: number;
}

function short(url: string, root: string): string {
  if (url === '') return '(native)';
  const path = url.startsWith('file://') ? url.slice(7) : url;
  const rel = path.startsWith(root) ? relative(root, path) : path;
  return rel.replace(/^bench\/\.work\/build\//, 'src/');
}

export function topFrames(file: string, root: string, count = 15): { byFunction: Frame[]; byFile: Frame[]; totalMs: number } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totalMs = (p.endTime - p.startTime) / 1000;
  const perSample = totalMs / Math.max(1, p.samples.length);
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  for (const n of p.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const f = short(n.callFrame.url, root);
    const key = `${n.callFrame.functionName || '(anonymous)'} ${f}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + hits * perSample);
    const group = f.startsWith('node_modules/') ? f.split('/').slice(0, f.split('/')[1]?.startsWith('@') ? 3 : 2).join('/') : f;
    files.set(group, (files.get(group) ?? 0) + hits * perSample);
  }
  const rank = (m: Map<string, number>): Frame[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, selfMs]) => ({ name, selfMs, pct: (100 * selfMs) / totalMs }));
  return { byFunction: rank(fn), byFile: rank(files), totalMs };
}
