/**
 * Secret redaction. Every string that leaves the process (terminal, --json, --junit, journal,
 * error messages) goes through one Redactor. It masks registered secret values, anything that looks
 * like a PEM private key block, and the values of vars whose names say they are secret.
 */

export const MASK = '********';

const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED |DSA |OPENSSH )?PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g;

/** Var names whose values are secret by convention (Ansible users name them so). */
export const SECRET_NAME = /(pass(word|phrase)?|secret|token|private_key_content|_pem_key)$/i;

export class Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | null = null;

  /** Register a secret value (ignored when shorter than 4 chars, to avoid masking everything). */
  add(value: unknown): void {
    if (typeof value !== 'string') return;
    const v = value.trim();
    if (v.length < 4 || this.secrets.has(v)) return;
    this.secrets.add(v);
    this.pattern = null;
  }

  /** Register the values of secret-named vars found in a vars object (shallow and nested). */
  addFromVars(vars: Readonly<Record<string, unknown>>, depth = 0): void {
    if (depth > 4) return;
    for (const [k, v] of Object.entries(vars)) {
      if (SECRET_NAME.test(k) && !k.endsWith('_env')) this.add(v);
      else if (v !== null && typeof v === 'object' && !Array.isArray(v)) this.addFromVars(v as Record<string, unknown>, depth + 1);
    }
  }

  get size(): number {
    return this.secrets.size;
  }

  redact(text: string): string {
    let out = text.replace(PRIVATE_KEY_BLOCK, `-----BEGIN $1-----${MASK}-----END $1-----`);
    if (this.secrets.size === 0) return out;
    if (this.pattern === null) {
      const alts = [...this.secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.pattern = new RegExp(alts.join('|'), 'g');
    }
    out = out.replace(this.pattern, MASK);
    return out;
  }

  /** Deep-redact any JSON-able value. */
  redactValue<T>(value: T): T {
    return JSON.parse(this.redact(JSON.stringify(value) ?? 'null')) as T;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
