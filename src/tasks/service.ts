/**
 * `service`: start, stop, restart or reload a service, and enable/disable it at boot. With systemd
 * it asks `systemctl is-active`/`is-enabled`; with `manager: command` it runs the argv lists given
 * in `commands` or in the host var `fleetplay_service_commands: { <name>: {...} }` (for hosts
 * without systemd, like the lab). started/stopped are idempotent by status; restarted/reloaded
 * always change. After a start or restart, a call step polls the status until it is up, bounded by
 * `wait` seconds. Undo records whether it was active (and enabled); rollback restarts it if it was
 * active, so it rereads restored files, and stops it if it was not.
 */
import { z } from 'zod';
import { defineTask, type Plan } from './types.js';
import type { CallStep, ExecStep, Step } from './steps.js';
import { explainFailure } from './steps.js';
import type { CommandResult } from '../transport/types.js';
import { argvArg, boolArg, secondsArg } from './lib/args.js';
import { TaskError } from '../errors.js';

const commandsSchema = z.strictObject({
  start: argvArg,
  stop: argvArg,
  restart: argvArg.optional(),
  reload: argvArg.optional(),
  status: argvArg,
});

export type ServiceCommands = z.infer<typeof commandsSchema>;

export const serviceArgs = z
  .strictObject({
    name: z.string().min(1),
    state: z.enum(['started', 'stopped', 'restarted', 'reloaded']).optional(),
    enabled: boolArg.optional(),
    manager: z.enum(['systemd', 'command']).optional(),
    commands: commandsSchema.optional(),
    wait: secondsArg.default(30),
  })
  .refine((a) => a.state !== undefined || a.enabled !== undefined, { error: 'give state, enabled, or both' });

/** Everything rollback needs, including the commands, so it does not depend on current vars. */
export interface ServiceUndo {
  name: string;
  manager: 'systemd' | 'command';
  commands?: ServiceCommands;
  wasActive: boolean;
  /** Set when the plan changes enablement. */
  wasEnabled?: boolean;
  wait: number;
  /** Always true: rollback runs this record after the host's files are restored. */
  after_restore: true;
  /** The change was a reload: rollback reloads too (a restart would drop every connection). */
  reloaded?: boolean;
}

interface Ops {
  status: string[];
  start: string[];
  stop: string[];
  restart: string[] | null;
  reload: string[] | null;
}

function opsFor(name: string, manager: 'systemd' | 'command', commands: ServiceCommands | undefined): Ops {
  if (manager === 'systemd') {
    return {
      status: ['systemctl', 'is-active', '--quiet', name],
      start: ['systemctl', 'start', name],
      stop: ['systemctl', 'stop', name],
      restart: ['systemctl', 'restart', name],
      reload: ['systemctl', 'reload', name],
    };
  }
  const c = commands as ServiceCommands;
  return { status: c.status, start: c.start, stop: c.stop, restart: c.restart ?? null, reload: c.reload ?? null };
}

function exec(argv: string[], label: string): ExecStep {
  return { kind: 'exec', argv, label };
}

/** Poll `status` until it exits 0, at most `seconds`. */
export function waitUntilUp(name: string, status: string[], seconds: number): CallStep {
  return {
    kind: 'call',
    label: `wait up to ${seconds}s until ${name} is up`,
    async run(api) {
      const deadline = Date.now() + seconds * 1000;
      let last: CommandResult | undefined;
      for (;;) {
        last = await api.conn.exec(status, { signal: api.signal });
        if (last.exitCode === 0) return { up: true };
        if (Date.now() >= deadline || api.signal.aborted) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new TaskError(`${name} is not up after ${seconds}s (${explainFailure(last)})`, {
        host: api.conn.host,
        hint: `check the service's log on the host; raise wait: if it needs longer to start`,
      });
    },
  };
}

function restartSteps(name: string, o: Ops, wait: number): Step[] {
  const steps: Step[] = o.restart !== null ? [exec(o.restart, `restart ${name}`)] : [exec(o.stop, `stop ${name}`), exec(o.start, `start ${name}`)];
  if (wait > 0) steps.push(waitUntilUp(name, o.status, wait));
  return steps;
}

export const serviceTask = defineTask({
  name: 'service',
  aliases: ['ansible.builtin.service', 'systemd', 'ansible.builtin.systemd', 'ansible.builtin.systemd_service'],
  args: serviceArgs,
  async plan(ctx): Promise<Plan> {
    const a = ctx.args;
    const fromVars = (ctx.host.vars.fleetplay_service_commands as Record<string, unknown> | undefined)?.[a.name];
    let commands = a.commands;
    if (commands === undefined && fromVars !== undefined) {
      const parsed = commandsSchema.safeParse(fromVars);
      if (!parsed.success) {
        return { changed: false, steps: [], failed: `fleetplay_service_commands.${a.name} in the inventory is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
      }
      commands = parsed.data;
    }
    const manager = a.manager ?? (commands !== undefined ? 'command' : 'systemd');
    if (manager === 'command' && commands === undefined) {
      return { changed: false, steps: [], failed: `manager: command needs commands for ${a.name} (in the task, or the host var fleetplay_service_commands.${a.name})` };
    }
    const o = opsFor(a.name, manager, commands);
    const st = await ctx.probe.exec(o.status);
    const active = st.exitCode === 0;
    const steps: Step[] = [];
    const what: string[] = [];
    // after_restore: the runner replays this after every file of the host is restored, so the service rereads them.
    const undo: ServiceUndo = { name: a.name, manager, wasActive: active, wait: a.wait, after_restore: true };
    if (commands !== undefined) undo.commands = commands;

    if (a.enabled !== undefined) {
      if (manager !== 'systemd') return { changed: false, steps: [], failed: `enabled: needs systemd; the command manager cannot change boot behaviour of ${a.name}` };
      const en = await ctx.probe.exec(['systemctl', 'is-enabled', a.name]);
      const isEnabled = en.exitCode === 0;
      if (isEnabled !== a.enabled) {
        steps.push(exec(['systemctl', a.enabled ? 'enable' : 'disable', a.name], `${a.enabled ? 'enable' : 'disable'} ${a.name}`));
        undo.wasEnabled = isEnabled;
        what.push(a.enabled ? 'enable' : 'disable');
      }
    }
    switch (a.state) {
      case 'started':
        if (!active) {
          steps.push(exec(o.start, `start ${a.name}`));
          if (a.wait > 0) steps.push(waitUntilUp(a.name, o.status, a.wait));
          what.push('start');
        }
        break;
      case 'stopped':
        if (active) {
          steps.push(exec(o.stop, `stop ${a.name}`));
          what.push('stop');
        }
        break;
      case 'restarted':
        steps.push(...(active ? restartSteps(a.name, o, a.wait) : restartSteps(a.name, { ...o, restart: o.start }, a.wait)));
        what.push(active ? 'restart' : 'start (was not running)');
        break;
      case 'reloaded':
        if (!active) {
          steps.push(exec(o.start, `start ${a.name}`));
          if (a.wait > 0) steps.push(waitUntilUp(a.name, o.status, a.wait));
          what.push('start (was not running, nothing to reload)');
        } else if (o.reload === null) {
          return { changed: false, steps: [], failed: `no reload command for ${a.name}; give commands.reload or use state: restarted` };
        } else {
          steps.push(exec(o.reload, `reload ${a.name}`));
          what.push('reload');
          undo.reloaded = true;
        }
        break;
      case undefined:
        break;
    }
    const result = { name: a.name, state: active ? 'started' : 'stopped' };
    if (steps.length === 0) {
      const parts = [`${a.name} is ${active ? 'active' : 'not active'}`];
      if (a.enabled !== undefined) parts.push(a.enabled ? 'enabled' : 'disabled');
      return { changed: false, reason: parts.join(', '), steps: [], result };
    }
    return { changed: true, reason: `${what.join(', ')} ${a.name}`, steps, undo: undo as unknown as Record<string, unknown>, result };
  },
  rollback(data) {
    const u = data as unknown as ServiceUndo;
    const o = opsFor(u.name, u.manager, u.commands);
    const steps: Step[] = [];
    if (u.wasEnabled !== undefined) {
      steps.push(exec(['systemctl', u.wasEnabled ? 'enable' : 'disable', u.name], `${u.wasEnabled ? 'enable' : 'disable'} ${u.name} again`));
    }
    if (u.wasActive && u.reloaded === true && o.reload !== null) steps.push(exec(o.reload, `reload ${u.name} (it rereads the restored files)`));
    else if (u.wasActive) steps.push(...restartSteps(u.name, o, u.wait));
    else steps.push({ kind: 'exec', argv: o.stop, label: `stop ${u.name} (it was not running)`, okExit: u.manager === 'systemd' ? [0, 5] : [0] });
    return steps;
  },
});
