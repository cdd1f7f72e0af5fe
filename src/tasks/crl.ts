/**
 * `crl`: `state: present` creates or refreshes the CRL of a CA at `path` (kept while it has more
 * than `renew_days` left; revoked serials already listed are carried over, `revoke` adds more).
 * On the CA's host it runs `openssl ca -gencrl` with a throwaway minimal config in a 0700 temp dir
 * (the CA key stays there); with `controller_ca: true` the controller signs it with pki/crl.ts.
 * `state: checked` verifies that the CRL file covers every CA in a root.crt with a current CRL
 * (pitfall 1: otherwise PostgreSQL refuses every client with "unknown ca"). `keep_other_issuers`
 * keeps the other CAs' CRLs already in `path` (a root.crl covering old and new CA in a rollover).
 * Rollback restores the previous CRL from its backup.
 */
import { z } from 'zod';
import { defineTask, noChange } from './types.js';
import type { Plan, UndoData } from './types.js';
import type { Step } from './steps.js';
import { boolArg, modeArg, ownerArg, pathArg } from './lib/args.js';
import { restoreFileSteps, snapshotFile } from './lib/files.js';
import type { FileUndo } from './lib/files.js';
import { readText } from './lib/openssl.js';
import { readControllerFile } from './lib/controller.js';
import { createCrl, crlSignedBy, dnText, normalizeSerial, parseCrls } from '../pki/crl.js';
import type { CrlInfo } from '../pki/crl.js';
import { parseCertificates } from '../pki/inspect.js';
import type { CertInfo } from '../pki/inspect.js';
import { namesEqual } from '../pki/names.js';
import { parsePrivateKey } from '../pki/keys.js';
import { TaskError } from '../errors.js';

const DAY_MS = 86_400_000;

export const crlArgs = z
  .strictObject({
    path: pathArg,
    state: z.enum(['present', 'checked']).default('present'),
    ca_cert: pathArg.optional(),
    ca_key: pathArg.optional(),
    /** Inventory host holding the CA files (default: this host). */
    ca_host: z.string().min(1).optional(),
    controller_ca: boolArg.default(false),
    key_passphrase_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
    days: z.coerce.number().int().positive().default(30),
    renew_days: z.coerce.number().int().nonnegative().default(7),
    revoke: z.array(z.string().regex(/^(0x)?[0-9A-Fa-f:]+$/, { error: 'a hex serial number' })).default([]),
    /** state: checked: the CA bundle (root.crt) whose CAs all need a CRL. */
    ca_bundle: pathArg.optional(),
    margin_days: z.coerce.number().nonnegative().default(0),
    /** state: present: keep the CRLs of other CAs already in `path` (root.crl covering several CAs). */
    keep_other_issuers: boolArg.default(false),
    owner: ownerArg.optional(),
    group: ownerArg.optional(),
    mode: modeArg.default(0o644),
  })
  .refine((a) => a.state !== 'present' || (a.ca_cert !== undefined && a.ca_key !== undefined), { error: 'state: present needs ca_cert and ca_key' })
  .refine((a) => a.state !== 'checked' || a.ca_bundle !== undefined, { error: 'state: checked needs ca_bundle (the root.crt to cover)' });

/**
 * Generate a CRL with openssl on the CA host: a 0700 temp dir with an index of the revoked
 * serials ($4), a minimal config, and `openssl ca -gencrl` printing the CRL on stdout.
 */
export const GENCRL_SCRIPT = [
  'set -e; umask 077; d=$(mktemp -d); trap \'rm -rf "$d"\' EXIT',
  'printf "%s" "$4" > "$d/index.txt"; echo 01 > "$d/crlnumber"',
  'printf "[ca]\\ndefault_ca=d\\n[d]\\ndatabase=%s/index.txt\\ncrlnumber=%s/crlnumber\\ndefault_md=sha256\\ncrl_extensions=ext\\n[ext]\\nauthorityKeyIdentifier=keyid\\n" "$d" "$d" > "$d/ca.cnf"',
  'openssl ca -gencrl -config "$d/ca.cnf" -cert "$1" -keyfile "$2" -crldays "$3" -batch -passin pass:',
].join('; ');

/** openssl ca's index.txt lines for revoked serials. */
export function revokedIndex(serials: readonly string[], now: Date): string {
  const t = (d: Date): string => `${d.toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`;
  return serials.map((s) => `R\t${t(new Date(now.getTime() + 3650 * DAY_MS))}\t${t(now)}\t${normalizeSerial(s)}\tunknown\t/CN=revoked\n`).join('');
}

function current(c: CrlInfo, now: Date, marginMs: number): boolean {
  return c.thisUpdate.getTime() <= now.getTime() && (c.nextUpdate === undefined || c.nextUpdate.getTime() > now.getTime() + marginMs);
}

/** The CRLs in `crls` that are from `ca` (name and signature). */
async function crlsOf(ca: CertInfo, crls: CrlInfo[]): Promise<CrlInfo[]> {
  const out: CrlInfo[] = [];
  for (const c of crls) if (namesEqual(c.issuerRdns, ca.subjectRdns) && (await crlSignedBy(c, ca))) out.push(c);
  return out;
}

async function planChecked(a: z.infer<typeof crlArgs>, probe: Parameters<typeof readText>[0]): Promise<Plan> {
  const bundleText = await readText(probe, a.ca_bundle ?? '');
  if (bundleText === null) return { changed: false, steps: [], failed: `CA bundle ${a.ca_bundle} does not exist` };
  const crlText = await readText(probe, a.path);
  if (crlText === null) return { changed: false, steps: [], failed: `${a.path} does not exist; with ssl_crl_file set PostgreSQL will not start: create it or unset ssl_crl_file` };
  const cas = parseCertificates(bundleText);
  const crls = parseCrls(crlText);
  const now = new Date();
  const missing: string[] = [];
  for (const ca of cas) {
    const mine = await crlsOf(ca, crls);
    if (mine.length === 0) missing.push(`no CRL from ${dnText(ca.subjectRdns)}`);
    else if (!mine.some((c) => current(c, now, a.margin_days * DAY_MS))) {
      const latest = mine.map((c) => c.nextUpdate?.toISOString() ?? '').sort().at(-1);
      missing.push(`the CRL from ${dnText(ca.subjectRdns)} is not current (next update ${latest}${a.margin_days > 0 ? `, margin ${a.margin_days} days` : ''})`);
    }
  }
  const result = { cas: cas.map((c) => c.subject), crls: crls.map((c) => ({ issuer: c.issuer, next_update: c.nextUpdate?.toISOString() })) };
  if (missing.length > 0) {
    return {
      changed: false,
      steps: [],
      failed: `${a.path} does not cover every CA in ${a.ca_bundle}: ${missing.join('; ')}. Clients would be refused with 'tlsv1 alert unknown ca'; either add a current CRL from every CA in ${a.ca_bundle}, or comment out ssl_crl_file`,
      result,
    };
  }
  return noChange(`${a.path} has a current CRL from each of the ${cas.length} CA(s) in ${a.ca_bundle}`, result);
}

/** The PEM of every CRL in `content` that is not from `ca` (unreadable content keeps nothing). */
async function otherIssuersPem(ca: CertInfo, content: Buffer): Promise<string> {
  let all: CrlInfo[];
  try {
    all = parseCrls(content);
  } catch {
    return '';
  }
  const mine = new Set(await crlsOf(ca, all));
  return all.filter((c) => !mine.has(c)).map((c) => (c.pem.endsWith('\n') ? c.pem : `${c.pem}\n`)).join('');
}

export const crlTask = defineTask({
  name: 'crl',
  args: crlArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    if (a.state === 'checked') return planChecked(a, ctx.probe);
    const caCertPath = a.ca_cert ?? '';
    const caKeyPath = a.ca_key ?? '';
    const caProbe = a.ca_host !== undefined ? await ctx.probeHost(a.ca_host) : ctx.probe;
    const caText = a.controller_ca ? (await readControllerFile(caCertPath))?.toString('utf8') ?? null : await readText(caProbe, caCertPath);
    if (caText === null) return { changed: false, steps: [], failed: `CA certificate ${caCertPath} does not exist${a.controller_ca ? ' on the controller' : ''}` };
    const ca = parseCertificates(caText)[0];
    if (!ca) return { changed: false, steps: [], failed: `${caCertPath} holds no certificate` };

    const snap = await snapshotFile(ctx.probe, a.path, ctx.backupDir, ctx.taskKey);
    const now = new Date();
    const existing = snap.content === null ? [] : await crlsOf(ca, parseCrls(snap.content)).catch(() => []);
    const carried = existing.flatMap((c) => c.revoked.map((r) => r.serial));
    const wanted = [...new Set([...carried, ...a.revoke.map(normalizeSerial)])];
    const fresh = existing.find((c) => current(c, now, a.renew_days * DAY_MS));
    if (fresh && wanted.every((s) => fresh.revoked.some((r) => r.serial === s))) {
      const left = fresh.nextUpdate ? Math.floor((fresh.nextUpdate.getTime() - now.getTime()) / DAY_MS) : Infinity;
      return noChange(`${a.path}: CRL from ${ca.cn ?? ca.subject} is current, ${left} days left`, { path: a.path, issuer: ca.subject });
    }
    const why = existing.length === 0 ? `create CRL ${a.path} for ${ca.cn ?? ca.subject}` : `refresh CRL ${a.path} for ${ca.cn ?? ca.subject}`;
    const others = a.keep_other_issuers && snap.content !== null ? await otherIssuersPem(ca, snap.content) : '';
    const write: Step = {
      kind: 'write',
      path: a.path,
      contentFrom: 'crl',
      mode: a.mode,
      ...(a.owner !== undefined ? { owner: a.owner } : {}),
      ...(a.group !== undefined ? { group: a.group } : {}),
    };
    let make: Step;
    if (a.controller_ca) {
      const env = a.key_passphrase_env;
      make = {
        kind: 'call',
        label: `${why} with the controller-held CA key, ${a.days} days`,
        async run(api) {
          const keyBytes = await readControllerFile(caKeyPath);
          if (keyBytes === null) throw new TaskError(`CA key ${caKeyPath} does not exist on the controller`, { hint: 'check ca_key' });
          const pass = env === undefined ? undefined : process.env[env];
          if (env !== undefined && pass === undefined) throw new TaskError(`environment variable ${env} is not set`, { hint: `export ${env}` });
          const key = parsePrivateKey(keyBytes, { ...(pass !== undefined ? { passphrase: pass } : {}), source: caKeyPath });
          api.captures.set('crl', await createCrl({ ca: { certPem: caText, key }, days: a.days, revoked: wanted.map((serial) => ({ serial })) }));
        },
      };
    } else {
      make = {
        kind: 'exec',
        argv: ['sh', '-c', GENCRL_SCRIPT, 'sh', caCertPath, caKeyPath, String(a.days), revokedIndex(wanted, now)],
        capture: 'crl',
        label: `${why}: openssl ca -gencrl with ${caCertPath}${a.ca_host !== undefined ? ` on ${a.ca_host}` : ''}, ${a.days} days`,
        ...(a.ca_host !== undefined ? { host: a.ca_host } : {}),
      };
    }
    // The other CAs' CRLs go first, unchanged; this CA's new CRL replaces its old ones.
    const keep: Step[] = others === '' ? [] : [{
      kind: 'call',
      label: `keep the CRLs of the other CAs in ${a.path}`,
      async run(api) {
        api.captures.set('crl', others + (api.captures.get('crl') ?? ''));
      },
    }];
    return {
      changed: true,
      reason: others === '' ? why : `${why} (the other CAs' CRLs kept)`,
      steps: [...snap.steps, make, ...keep, write],
      undo: { file: snap.undo } as unknown as UndoData,
      result: { path: a.path, issuer: ca.subject, revoked: wanted },
    };
  },
  rollback(undo): Step[] {
    return restoreFileSteps((undo as unknown as { file: FileUndo }).file);
  },
});
