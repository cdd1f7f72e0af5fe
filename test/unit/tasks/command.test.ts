import { describe, expect, it } from 'vitest';
import { commandTask } from '../../../src/tasks/command.js';
import { shellTask } from '../../../src/tasks/shell.js';
import { findTask } from '../../../src/tasks/index.js';
import { splitCommand } from '../../../src/tasks/lib/split.js';
import { FakeHost } from '../../support/fake-probe.js';
import { applyFakeSteps, planOn } from '../../support/fake-steps.js';

describe('splitCommand', () => {
  const cases: Array<[string, string[]]> = [
    ['ls -l /tmp', ['ls', '-l', '/tmp']],
    ["openssl x509 -subj '/CN=agent 7' -noout", ['openssl', 'x509', '-subj', '/CN=agent 7', '-noout']],
    ['echo "a \\"b\\" $HOME" x\\ y', ['echo', 'a "b" $HOME', 'x y']],
    ['cat a | grep b; rm -rf /', ['cat', 'a', '|', 'grep', 'b;', 'rm', '-rf', '/']],
    ["''", ['']],
    ['  spaced\targs  ', ['spaced', 'args']],
  ];
  for (const [line, argv] of cases) it(line, () => expect(splitCommand(line)).toEqual(argv));
  it('unterminated quotes are an error', () => expect(() => splitCommand("echo 'x")).toThrow(/unterminated single quote/));
});

describe('command', () => {
  it('plans one exec with captured stdout; would run in check mode', async () => {
    const h = new FakeHost();
    const plan = await planOn(commandTask, h, { cmd: "pg_ctl -D '/var/lib/pg data' reload", chdir: '/tmp', env: { PGPORT: 5444 } }, { check: true });
    expect(plan.changed).toBe(true);
    expect(plan.reason).toBe("would run: pg_ctl -D '/var/lib/pg data' reload");
    expect(plan.steps).toEqual([
      { kind: 'exec', argv: ['pg_ctl', '-D', '/var/lib/pg data', 'reload'], capture: 'stdout', cwd: '/tmp', env: { PGPORT: '5444' }, label: "run pg_ctl -D '/var/lib/pg data' reload" },
    ]);
  });

  const skip: Array<{ name: string; args: Record<string, unknown>; reason: string }> = [
    { name: 'creates exists', args: { cmd: 'x', creates: '/etc/done' }, reason: 'skipped, since /etc/done exists' },
    { name: 'removes is absent', args: { cmd: 'x', removes: '/etc/nope' }, reason: 'skipped, since /etc/nope does not exist' },
    { name: 'creates relative to chdir', args: { argv: ['x'], creates: 'done', chdir: '/etc' }, reason: 'skipped, since /etc/done exists' },
  ];
  for (const c of skip) {
    it(c.name, async () => {
      const h = new FakeHost().file('/etc/done', '');
      const plan = await planOn(commandTask, h, c.args, { check: true });
      expect(plan.changed).toBe(false);
      expect(plan.reason).toBe(c.reason);
      expect(plan.steps).toEqual([]);
    });
  }

  it('stdin gets a newline unless told not to', async () => {
    const h = new FakeHost();
    expect((await planOn(commandTask, h, { argv: ['cat'], stdin: 'x' })).steps[0]).toMatchObject({ stdin: 'x\n' });
    expect((await planOn(commandTask, h, { argv: ['cat'], stdin: 'x', stdin_add_newline: false })).steps[0]).toMatchObject({ stdin: 'x' });
  });

  it('argv and cmd are exclusive; rollback is empty', () => {
    expect(() => commandTask.args.parse({ cmd: 'a', argv: ['a'] })).toThrow(/exactly one/);
    expect(() => commandTask.args.parse({ cmd: 'a "b' })).toThrow(/unterminated/);
    expect(commandTask.rollback({}, { host: { name: 'h', vars: {} }, runId: 'r' })).toEqual([]);
  });

  it('the captured stdout reaches the captures after apply', async () => {
    const h = new FakeHost().on(['hostname'], { stdout: 'agent7\n' });
    const plan = await planOn(commandTask, h, { cmd: 'hostname' });
    const caps = await applyFakeSteps(h, plan.steps);
    expect(caps.get('stdout')).toBe('agent7\n');
  });
});

describe('shell', () => {
  it('runs [executable, -c, cmd] and never rewrites the command line', async () => {
    const h = new FakeHost();
    const plan = await planOn(shellTask, h, { cmd: 'grep ssl /etc/x | wc -l', executable: '/bin/bash' });
    expect(plan.steps[0]).toMatchObject({ kind: 'exec', argv: ['/bin/bash', '-c', 'grep ssl /etc/x | wc -l'], capture: 'stdout' });
    const d = await planOn(shellTask, h, { cmd: 'true' });
    expect(d.steps[0]).toMatchObject({ argv: ['/bin/sh', '-c', 'true'] });
  });
});

describe('registry', () => {
  it('knows every generic module by name and ansible.builtin alias', () => {
    for (const n of ['command', 'shell', 'copy', 'fetch', 'file', 'lineinfile', 'service', 'assert', 'wait_for', 'pause', 'debug', 'set_fact']) {
      expect(findTask(n)?.name).toBe(n);
      expect(findTask(`ansible.builtin.${n}`)?.name).toBe(n);
    }
    expect(findTask('backup')?.name).toBe('backup');
    expect(findTask('ansible.builtin.ini_file')?.name).toBe('ini');
  });
});
