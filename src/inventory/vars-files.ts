/**
 * host_vars/ and group_vars/ beside the inventory file, as Ansible reads them: `<name>.yaml`,
 * `<name>.yml`, `<name>.json`, `<name>` with no extension, or a directory `<name>/` whose files are
 * merged in name order.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap } from 'yaml';
import type { YAMLMap } from 'yaml';
import type { Issue } from '../playbook/issues.js';
import { keyName, nodeLoc, readYaml, toJS } from '../playbook/source.js';
import type { YamlSource } from '../playbook/source.js';

/** Inventory keys that would hold a secret in clear text; we ask for an env var name instead. */
const LITERAL_SECRETS: Record<string, string> = {
  ansible_password: 'ansible_password_env',
  ansible_ssh_pass: 'ansible_password_env',
  ansible_ssh_password: 'ansible_password_env',
  ansible_become_pass: 'fleetplay_become_password_env',
  ansible_become_password: 'fleetplay_become_password_env',
  ansible_sudo_pass: 'fleetplay_become_password_env',
  ansible_ssh_private_key_passphrase: 'fleetplay_key_passphrase_env',
};

/** Refuse clear-text secrets in a vars mapping, pointing at the key. */
export function checkLiteralSecrets(src: YamlSource, map: YAMLMap, issues: Issue[]): void {
  for (const pair of map.items) {
    const name = keyName(pair);
    const instead = LITERAL_SECRETS[name];
    if (instead === undefined) continue;
    // The quoted line must not repeat the secret: mask everything after the key.
    const loc = nodeLoc(src, pair.key);
    const colon = loc.text.indexOf(':', loc.col - 1 + name.length);
    const text = colon >= 0 ? `${loc.text.slice(0, colon + 1)} ********` : loc.text;
    issues.push({
      loc: { ...loc, text },
      message: `"${name}" would keep a secret in clear text in the inventory; fleetplay refuses it`,
      hint: `put the secret in an environment variable and name that variable instead: ${instead}: MY_ENV_VAR`,
    });
  }
}

const EXTS = ['.yaml', '.yml', '.json', ''];

function loadOne(file: string, issues: Issue[]): Record<string, unknown> {
  const { src, issues: yi } = readYaml(file);
  if (!src || yi.length > 0) {
    issues.push(...yi);
    return {};
  }
  if (src.text.startsWith('$ANSIBLE_VAULT')) {
    issues.push({
      loc: nodeLoc(src, undefined),
      message: 'Ansible Vault files are not supported',
      hint: 'keep secrets out of vars files: name an environment variable instead (ansible_password_env, fleetplay_key_passphrase_env)',
    });
    return {};
  }
  const contents = src.doc.contents;
  if (contents === null) return {};
  if (!isMap(contents)) {
    issues.push({
      loc: nodeLoc(src, contents),
      message: 'a vars file must be a mapping of variable names to values',
      hint: 'write one "name: value" per line at the top level',
    });
    return {};
  }
  checkLiteralSecrets(src, contents, issues);
  return (toJS(src, contents) ?? {}) as Record<string, unknown>;
}

/** Vars for `name` from `<dir>/<kind>/`, merged; {} when there are none. */
export function readVarsFor(dir: string, kind: 'host_vars' | 'group_vars', name: string, issues: Issue[]): Record<string, unknown> {
  const base = join(dir, kind, name);
  let out: Record<string, unknown> = {};
  for (const ext of EXTS) {
    const f = base + ext;
    if (!existsSync(f)) continue;
    const st = statSync(f);
    if (st.isFile()) out = { ...out, ...loadOne(f, issues) };
    else if (st.isDirectory() && ext === '') {
      for (const entry of readdirSync(f).sort()) {
        if (!EXTS.slice(0, 3).some((e) => entry.endsWith(e))) continue;
        const path = join(f, entry);
        if (statSync(path).isFile()) out = { ...out, ...loadOne(path, issues) };
      }
    }
  }
  return out;
}
