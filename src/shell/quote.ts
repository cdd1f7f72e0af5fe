/**
 * The one place that turns argv into a string for a remote POSIX shell. User values never reach a
 * shell any other way: every argument is single-quoted, so spaces, quotes, `;`, `$( )`, newlines
 * and leading dashes stay one literal argument.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one argument for a POSIX shell. */
export function quoteArg(arg: string): string {
  if (arg === '') return "''";
  if (SAFE.test(arg) && !arg.startsWith('-') && !arg.startsWith('=')) return arg;
  if (SAFE.test(arg)) return `'${arg}'`;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Join argv into one shell command line. */
export function shellJoin(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('shellJoin: empty argv');
  return argv.map(quoteArg).join(' ');
}

/** `env K=V ... argv` with every part quoted; names are checked, values are data. */
export function withEnv(env: Readonly<Record<string, string>>, argv: readonly string[]): string[] {
  const pairs = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name: ${k}`);
    return `${k}=${v}`;
  });
  return pairs.length === 0 ? [...argv] : ['env', ...pairs, ...argv];
}
