/**
 * Deciding what content may be shown: a diff is printed only for text that is not secret. Content
 * that looks like a PEM private key is secret even when the playbook forgot to say so.
 */

const PRIVATE_KEY_RE = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/** True when the text contains a PEM private key block (RSA, EC, ENCRYPTED, OpenSSH, ...). */
export function looksSecret(content: Buffer | string): boolean {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  return PRIVATE_KEY_RE.test(text);
}

/** True for content that can be shown as text: valid UTF-8 without NUL bytes. */
export function isText(content: Buffer): boolean {
  if (content.includes(0)) return false;
  return Buffer.from(content.toString('utf8'), 'utf8').equals(content);
}
