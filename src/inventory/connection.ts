/**
 * From inventory variables to a ConnectionSpec, with Ansible's variable names. Secrets are never
 * taken from the inventory: a password or passphrase is named by the environment variable that
 * holds it (`ansible_password_env`, `fleetplay_key_passphrase_env`).
 */
import { homedir, userInfo } from 'node:os';
import { InventoryError } from '../errors.js';
import type { ConnectionSpec } from '../transport/types.js';
import type { InventoryHost } from './types.js';

export interface ConnectionDefaults {
  knownHostsFile: string;
  acceptUnknownHostKey: boolean;
  connectTimeoutMs: number;
}

const LITERAL_SECRETS = ['ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password', 'ansible_become_pass', 'ansible_become_password'];

function str(host: InventoryHost, key: string): string | undefined {
  const v = host.vars[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new InventoryError(`host ${host.name}: "${key}" must be a string, not ${Array.isArray(v) ? 'a list' : typeof v}`, {
    host: host.name,
    hint: `set ${key} to a plain value in the inventory`,
  });
}

/** Ansible's boolean spellings (yes/no/true/false/on/off/1/0). */
export function parseBool(host: InventoryHost, key: string): boolean | undefined {
  const v = host.vars[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['yes', 'true', 'on', '1', 'y'].includes(s)) return true;
  if (['no', 'false', 'off', '0', 'n'].includes(s)) return false;
  throw new InventoryError(`host ${host.name}: "${key}" must be true or false, not "${String(v)}"`, {
    host: host.name,
    hint: `write ${key}: true or ${key}: false`,
  });
}

function envName(host: InventoryHost, key: string): string | undefined {
  const v = str(host, key);
  if (v !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) {
    throw new InventoryError(`host ${host.name}: "${key}" must be the NAME of an environment variable (letters, digits, _), not a secret value`, {
      host: host.name,
      hint: `${key} names the variable that holds the secret, e.g. ${key}: PEM_SSH_PASSWORD`,
    });
  }
  return v;
}

/** How to reach `host`, from its merged inventory vars. */
export function connectionSpecFor(host: InventoryHost, defaults: ConnectionDefaults): ConnectionSpec {
  for (const key of LITERAL_SECRETS) {
    if (host.vars[key] !== undefined) {
      throw new InventoryError(`host ${host.name}: "${key}" would keep a secret in clear text; fleetplay refuses it`, {
        host: host.name,
        hint: 'put the secret in an environment variable and set ansible_password_env: <VARIABLE_NAME> instead',
      });
    }
  }
  const connection = str(host, 'ansible_connection');
  const hasConnVars = ['ansible_host', 'ansible_port', 'ansible_user', 'ansible_connection'].some((k) => host.vars[k] !== undefined);
  const local = connection === 'local' || (host.name === 'localhost' && !hasConnVars);
  if (connection !== undefined && connection !== 'local' && connection !== 'ssh' && connection !== 'paramiko' && connection !== 'smart') {
    throw new InventoryError(`host ${host.name}: ansible_connection "${connection}" is not supported`, {
      host: host.name,
      hint: 'use ansible_connection: ssh (the default) or local',
    });
  }
  const portRaw = host.vars['ansible_port'];
  const port = portRaw === undefined || portRaw === null ? 22 : Number(portRaw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InventoryError(`host ${host.name}: ansible_port must be a port number 1-65535, not "${String(portRaw)}"`, {
      host: host.name,
      hint: 'write ansible_port: 22',
    });
  }
  const spec: ConnectionSpec = {
    name: host.name,
    kind: local ? 'local' : 'ssh',
    address: str(host, 'ansible_host') ?? host.name,
    port,
    user: str(host, 'ansible_user') ?? userInfo().username,
    become: parseBool(host, 'ansible_become') ?? false,
    becomeUser: str(host, 'ansible_become_user') ?? 'root',
    knownHostsFile: defaults.knownHostsFile,
    acceptUnknownHostKey: defaults.acceptUnknownHostKey,
    connectTimeoutMs: defaults.connectTimeoutMs,
    keepaliveIntervalMs: 15_000,
  };
  const key = str(host, 'ansible_ssh_private_key_file') ?? str(host, 'ansible_private_key_file');
  if (key !== undefined) spec.privateKeyFile = key === '~' || key.startsWith('~/') ? homedir() + key.slice(1) : key;
  const pass = envName(host, 'fleetplay_key_passphrase_env');
  if (pass !== undefined) spec.privateKeyPassphraseEnv = pass;
  const pw = envName(host, 'fleetplay_password_env') ?? envName(host, 'ansible_password_env');
  if (pw !== undefined) spec.passwordEnv = pw;
  if (key === undefined && pw === undefined) spec.useAgent = Boolean(process.env['SSH_AUTH_SOCK']);
  return spec;
}
