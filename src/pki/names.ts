/**
 * Distinguished names: a subject given as a YAML map or an OpenSSL-style `/C=IN/ST=MH/CN=agent1`
 * string becomes an ordered list of RDNs. Every value stays a literal string (C=NO is Norway; a
 * leading `#` is not hex; `\/` is a slash inside a value). Formatting matches `openssl -nameopt
 * compat` (slash form) and OpenSSL 3's default one-line form, so messages read like openssl's.
 */
import type { JsonNameParams, Name } from '@peculiar/x509';
import { x509 } from './x509.js';
import { TaskError } from '../errors.js';

export interface Rdn {
  /** OpenSSL short name (`CN`, `O`, `emailAddress`) or the dotted OID when unknown. */
  type: string;
  oid: string;
  value: string;
}

/** A subject as users write it. */
export type SubjectInput = string | Readonly<Record<string, string>>;

const OIDS: Record<string, string> = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  emailAddress: '1.2.840.113549.1.9.1',
  DC: '0.9.2342.19200300.100.1.25',
  serialNumber: '2.5.4.5',
  SN: '2.5.4.4',
  GN: '2.5.4.42',
  title: '2.5.4.12',
  UID: '0.9.2342.19200300.100.1.1',
  street: '2.5.4.9',
  postalCode: '2.5.4.17',
};
const ALIASES: Record<string, string> = {
  commonname: 'CN',
  countryname: 'C',
  stateorprovincename: 'ST',
  localityname: 'L',
  organizationname: 'O',
  organizationalunitname: 'OU',
  email: 'emailAddress',
  emailaddress: 'emailAddress',
  e: 'emailAddress',
  s: 'ST',
};
const SHORT_BY_OID = new Map(Object.entries(OIDS).map(([k, v]) => [v, k]));
const IA5 = new Set([OIDS.emailAddress, OIDS.DC]);

function canonicalType(raw: string): { type: string; oid: string } {
  const t = raw.trim();
  if (/^\d+(\.\d+)+$/.test(t)) return { type: SHORT_BY_OID.get(t) ?? t, oid: t };
  const exact = OIDS[t];
  if (exact !== undefined) return { type: t, oid: exact };
  const alias = ALIASES[t.toLowerCase()] ?? Object.keys(OIDS).find((k) => k.toLowerCase() === t.toLowerCase());
  const oid = alias === undefined ? undefined : OIDS[alias];
  if (alias === undefined || oid === undefined) {
    throw new TaskError(`unknown subject field "${t}"`, { hint: `use one of ${Object.keys(OIDS).join(', ')}, or a dotted OID` });
  }
  return { type: alias, oid };
}

/** Parse an OpenSSL `-subj` string: `/type=value/...`, `\` escapes the next character. */
export function parseSlashSubject(text: string): Rdn[] {
  if (!text.startsWith('/')) {
    throw new TaskError(`subject "${text}" must start with "/"`, { hint: 'write it as /C=IN/O=Example/CN=agent1, or as a map' });
  }
  const parts: string[] = [];
  let cur = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i] ?? '';
    } else if (ch === '/') {
      parts.push(cur);
      cur = '';
    } else if (ch === '=' ) {
      cur += '\u0000';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('\u0000');
      if (i <= 0) throw new TaskError(`subject part "${p.replace(/\u0000/g, '=')}" has no "type=value"`, { hint: 'write each part as /TYPE=value' });
      const { type, oid } = canonicalType(p.slice(0, i));
      return { type, oid, value: p.slice(i + 1).replace(/\u0000/g, '=') };
    });
}

/** A subject from a map (insertion order kept) or a slash string. */
export function parseSubject(input: SubjectInput): Rdn[] {
  const rdns =
    typeof input === 'string'
      ? parseSlashSubject(input)
      : Object.entries(input).map(([k, v]) => {
          if (typeof v !== 'string') {
            throw new TaskError(`subject field ${k} must be a string, got ${typeof v}`, { hint: `quote it in YAML: ${k}: "${String(v)}"` });
          }
          return { ...canonicalType(k), value: v };
        });
  if (rdns.length === 0) throw new TaskError('empty subject', { hint: 'give at least CN' });
  for (const r of rdns) {
    if (r.value === '') throw new TaskError(`subject field ${r.type} is empty`, { hint: 'remove it or give a value' });
    if (r.type === 'C' && !/^[A-Za-z]{2}$/.test(r.value)) {
      throw new TaskError(`country "${r.value}" must be a two-letter code`, { hint: 'e.g. C=IN, C=NO' });
    }
  }
  return rdns;
}

/** `/C=IN/O=PEM/CN=agent1`, escaping `/` and `\` inside values (as `openssl -subj` reads them). */
export function formatSlash(rdns: readonly Rdn[]): string {
  return rdns.map((r) => `/${r.type}=${r.value.replace(/[\\/]/g, '\\$&')}`).join('');
}

/** OpenSSL 3's default one-line form: `C = IN, O = PEM, CN = agent1`. */
export function formatOneline(rdns: readonly Rdn[]): string {
  const quote = (v: string): string => (/[,+"\\<>;]/.test(v) ? `"${v.replace(/["\\]/g, '\\$&')}"` : v);
  return rdns.map((r) => `${r.type} = ${quote(r.value)}`).join(', ');
}

/** The subject as a map; a repeated type keeps its first value (use the RDN list for all). */
export function toMap(rdns: readonly Rdn[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rdns) if (!(r.type in out)) out[r.type] = r.value;
  return out;
}

/** The first CN, if any. */
export function commonName(rdns: readonly Rdn[]): string | undefined {
  return rdns.find((r) => r.oid === OIDS.CN)?.value;
}

/** A @peculiar/x509 Name with literal values (PrintableString for C, IA5 for email/DC, UTF8 otherwise). */
export function toX509Name(rdns: readonly Rdn[]): Name {
  const json: JsonNameParams = rdns.map((r) => ({
    [r.oid]: [r.oid === OIDS.C ? { printableString: r.value } : IA5.has(r.oid) ? { ia5String: r.value } : { utf8String: r.value }],
  }));
  return new x509.Name(json);
}

/** RDNs of a parsed Name (multi-valued RDNs are flattened in order). */
export function fromX509Name(name: Name): Rdn[] {
  const out: Rdn[] = [];
  for (const rdn of name.toJSON()) {
    for (const [t, values] of Object.entries(rdn)) {
      const oid = /^\d+(\.\d+)+$/.test(t) ? t : oidOfPeculiar(t);
      const type = SHORT_BY_OID.get(oid) ?? t;
      for (const v of values) out.push({ type, oid, value: v });
    }
  }
  return out;
}

const PECULIAR_OIDS: Record<string, string> = { E: OIDS.emailAddress ?? '', G: OIDS.GN ?? '', T: OIDS.title ?? '', I: '2.5.4.43' };
function oidOfPeculiar(t: string): string {
  return OIDS[t] ?? PECULIAR_OIDS[t] ?? t;
}

/** OpenSSL-like name equality: same types in order, values equal after case folding and space collapsing. */
export function namesEqual(a: readonly Rdn[], b: readonly Rdn[]): boolean {
  if (a.length !== b.length) return false;
  const canon = (v: string): string => v.trim().replace(/\s+/g, ' ').toLowerCase();
  return a.every((r, i) => {
    const o = b[i];
    return o !== undefined && o.oid === r.oid && canon(o.value) === canon(r.value);
  });
}
