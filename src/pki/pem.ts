/**
 * PEM framing: split a file into its blocks (several certificates or CRLs in one file, CRLF line
 * endings, text between blocks, legacy encryption headers) and encode DER back to PEM. Everything
 * else in pki/ reads input through here so every parser accepts the same inputs.
 */

/** One `-----BEGIN X-----` block. */
export interface PemBlock {
  /** The label, e.g. `CERTIFICATE`, `EC PRIVATE KEY`. */
  label: string;
  /** RFC 1421 headers (`Proc-Type`, `DEK-Info`) of legacy encrypted keys. */
  headers: Record<string, string>;
  der: Buffer;
  /** The block re-serialized with LF line endings. */
  text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\n([\s\S]*?)-----END \1-----/g;

/** Normalize CRLF/CR line endings to LF. */
export function normalizeNewlines(input: string): string {
  return input.replace(/\r\n?/g, '\n');
}

/** True when the input looks like PEM text rather than DER bytes. */
export function isPem(input: string | Buffer): boolean {
  const text = typeof input === 'string' ? input : input.subarray(0, 4096).toString('latin1');
  return text.includes('-----BEGIN ');
}

/** All PEM blocks in the input, in order. Non-PEM text between blocks is ignored. */
export function splitPem(input: string | Buffer): PemBlock[] {
  const text = normalizeNewlines(typeof input === 'string' ? input : input.toString('latin1'));
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const label = m[1] ?? '';
    const body = m[2] ?? '';
    const headers: Record<string, string> = {};
    let b64 = body;
    const sep = body.indexOf('\n\n');
    if (/^[A-Za-z-]+:/.test(body) && sep >= 0) {
      for (const line of body.slice(0, sep).split('\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      b64 = body.slice(sep + 2);
    }
    const der = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
    blocks.push({ label, headers, der, text: `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n` });
  }
  return blocks;
}

/** DER to PEM with 64-column lines and a trailing newline. */
export function toPem(label: string, der: Buffer | ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Colon-separated uppercase hex, the way `openssl x509 -fingerprint` prints a digest. */
export function colonHex(bytes: Buffer | Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}
