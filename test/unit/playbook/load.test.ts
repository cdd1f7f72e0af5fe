import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlaybookError } from '../../../src/errors.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { Playbook } from '../../../src/playbook/types.js';
import { fakeRegistry } from './fakes.js';

function load(yaml: string): Playbook {
  const file = join(mkdtempSync(join(tmpdir(), 'fp-pb-')), 'play.yaml');
  writeFileSync(file, yaml);
  return loadPlaybook(file, fakeRegistry);
}

function loadError(yaml: string): PlaybookError {
  try {
    load(yaml);
  } catch (e) {
    if (e instanceof PlaybookError) return e;
    throw e;
  }
  throw new Error('expected a PlaybookError');
}

const PLAY = `- name: Rotate
  hosts: [pem_agents, pem_server]
  become: yes
  become_user: enterprisedb
  serial: [1, '20%', "5"]
  max_fail_percentage: 25
  any_errors_fatal: on
  strategy: free
  on_failure: continue
  tags: certs, agents
  gather_facts: no
  vars:
    country: NO
    answer: yes
  tasks:
    - name: write
      ansible.builtin.copy:
        dest: /tmp/x
        content: NO
        mode: '0600'
      notify: restart
      tags: [a, b]
      become: false
      register: w
      no_log: true
      ignore_errors: yes
      run_once: True
      delegate_to: localhost
      vars: {k: v}
      when:
        - w is defined
        - country == 'NO'
      changed_when: false
      failed_when: "'error' in w.stdout"
    - shell: ls -l /tmp
      args:
        chdir: /tmp
      with_items: [a, b]
      loop_control:
        loop_var: f
      notify: [one, two]
    - command: src=/a dest="/b c"
  handlers:
    - name: restart
      command: systemctl restart pemagent
`;

describe('loadPlaybook', () => {
  const pb = load(PLAY);
  const play = pb.plays[0]!;
  const [t1, t2, t3] = play.tasks;

  it('reads play keywords with Ansible spellings', () => {
    expect(play).toMatchObject({
      name: 'Rotate',
      hosts: 'pem_agents,pem_server',
      become: true,
      becomeUser: 'enterprisedb',
      serial: [1, '20%', 5],
      maxFailPercentage: 25,
      anyErrorsFatal: true,
      strategy: 'free',
      onFailure: 'continue',
      tags: ['certs', 'agents'],
    });
    expect(play.loc).toMatchObject({ line: 1, col: 3 });
  });

  it('parses with the YAML 1.2 core schema: NO and yes stay strings', () => {
    expect(play.vars).toEqual({ country: 'NO', answer: 'yes' });
    expect((t1?.args as Record<string, unknown>)['content']).toBe('NO');
  });

  it('reads task keywords', () => {
    expect(t1).toMatchObject({
      name: 'write',
      module: 'copy',
      args: { dest: '/tmp/x', content: 'NO', mode: '0600' },
      notify: ['restart'],
      tags: ['a', 'b'],
      become: false,
      register: 'w',
      noLog: true,
      ignoreErrors: true,
      runOnce: true,
      delegateTo: 'localhost',
      vars: { k: 'v' },
      when: "(w is defined) and (country == 'NO')",
      changedWhen: 'false',
      failedWhen: "'error' in w.stdout",
      loopVar: 'item',
    });
  });

  it('records positions of the task, the module key and each arg', () => {
    expect(t1?.loc).toMatchObject({ line: 16, col: 7, text: '    - name: write' });
    expect(t1?.argLocs.get('')).toMatchObject({ line: 17, col: 7 });
    expect(t1?.argLocs.get('dest')).toMatchObject({ line: 18, col: 15 });
    expect(t1?.argLocs.get('mode')).toMatchObject({ line: 20, col: 15, text: "        mode: '0600'" });
    expect(t1?.keyLocs?.get('notify')).toMatchObject({ line: 21, col: 15 });
  });

  it('maps a bare scalar to the free-form arg, merges args:, reads loops', () => {
    expect(t2).toMatchObject({
      module: 'command',
      args: { cmd: 'ls -l /tmp', chdir: '/tmp' },
      loop: ['a', 'b'],
      loopVar: 'f',
      notify: ['one', 'two'],
      name: 'command ls -l /tmp',
    });
    expect(t3?.args).toEqual({ cmd: 'src=/a dest="/b c"' });
  });

  it('reads handlers', () => {
    expect(play.handlers.map((h) => h.name)).toEqual(['restart']);
  });

  it('defaults', () => {
    const p = load('- hosts: all\n  tasks:\n    - copy: {dest: /x}\n').plays[0]!;
    expect(p).toMatchObject({ name: 'all', serial: [], strategy: 'linear', onFailure: 'rollback', anyErrorsFatal: false, tags: [] });
    expect(p.tasks[0]).toMatchObject({ name: 'copy', runOnce: false, noLog: false, ignoreErrors: false, tags: [], notify: [], vars: {} });
  });

  it('reports bad keyword values at their position', () => {
    const msg = loadError(
      '- hosts: all\n  strategy: fast\n  serial: many\n  become: maybe\n  tasks:\n    - copy: {dest: /x}\n      register: "my var"\n',
    ).userMessage();
    expect(msg).toContain('4 problems found');
    expect(msg).toMatch(/play\.yaml:2:13: "strategy" must be one of linear, free; got "fast"/);
    expect(msg).toMatch(/play\.yaml:3:11: "serial" must be a positive number/);
    expect(msg).toMatch(/play\.yaml:4:11: "become" must be true or false, not "maybe"/);
    expect(msg).toMatch(/play\.yaml:7:17: register name "my var" is not a valid variable name/);
  });

  it('reports a play without hosts, a task without module, and unsupported include_tasks', () => {
    const msg = loadError('- name: x\n  tasks:\n    - name: nothing\n    - include_tasks: other.yml\n').userMessage();
    expect(msg).toContain('play 1 has no "hosts:"');
    expect(msg).toContain('this task has no module');
    expect(msg).toContain('"include_tasks" is not supported in a task');
  });
});
