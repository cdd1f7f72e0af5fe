/**
 * Zod pieces shared by the task modules' argument schemas, so an Ansible user's habits work the
 * same everywhere: quoted octal modes, yes/no booleans, numeric owners, and Ansible's key aliases.
 */
import { z } from 'zod';
import { parseMode } from './files.js';

const MODE_RE = /^0?[0-7]{3,4}$/;

/** A file mode as a quoted octal string ('0644'); parsed to a number. Unquoted YAML numbers are refused. */
export const modeArg = z
  .string({ error: "a file mode must be a quoted octal string like '0644' (unquoted, YAML reads it as a number)" })
  .regex(MODE_RE, { error: "invalid file mode: write it as a quoted octal string like '0644'" })
  .transform((s) => parseMode(s));

const TRUE_WORDS = ['yes', 'true', 'True', 'TRUE', 'on', 'y'];
const FALSE_WORDS = ['no', 'false', 'False', 'FALSE', 'off', 'n'];

/** A boolean that also accepts Ansible's yes/no words (YAML 1.2 reads `yes` as a string). */
export const boolArg = z
  .union([z.boolean(), z.enum([...TRUE_WORDS, ...FALSE_WORDS] as [string, ...string[]])])
  .transform((v) => (typeof v === 'boolean' ? v : TRUE_WORDS.includes(v)));

/** A user or group: a name, or a numeric id (kept as its decimal string). */
export const ownerArg = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String);

/** A command as an argv list; never run through a shell. */
export const argvArg = z.array(z.string()).min(1, { error: 'argv must name at least the program to run' });

export const pathArg = z.string().min(1, { error: 'a path must not be empty' });

/** A scalar value that ends up in a text file (ini values, lines). */
export const scalarArg = z.union([z.string(), z.number(), z.boolean()]).transform(String);

/** Seconds: a non-negative number (a numeric string from a template is accepted). */
export const secondsArg = z.coerce.number().nonnegative();

/**
 * Rename Ansible's alias keys (`dest`, `name` for `path`, ...) to the canonical key before the
 * schema checks them. When both are given the alias is left alone, so the strict schema names it.
 */
export function withAliases<S extends z.ZodType>(aliases: Readonly<Record<string, string>>, schema: S) {
  const wrapped = z.preprocess((input) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    for (const [alias, canonical] of Object.entries(aliases)) {
      if (alias in out && !(canonical in out)) {
        out[canonical] = out[alias];
        delete out[alias];
      }
    }
    return out;
  }, schema);
  // Keep the argument names visible (the playbook validator lists them in "unknown argument" hints).
  const shape = (schema as unknown as { shape?: unknown }).shape;
  if (shape !== undefined) Object.defineProperty(wrapped, 'shape', { value: shape, enumerable: false });
  return wrapped;
}
