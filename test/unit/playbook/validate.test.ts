import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlaybookError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { validatePlaybook } from '../../../src/playbook/validate.js';
import { hostVarsFor } from '../../../src/playbook/vars.js';
import { fakeFindTask, fakeRegistry } from './fakes.js';

const inv = loadInventory('test/fixtures/inventory/hosts.yaml');

function validate(yaml: string, extraVars: Record<string, unknown> = {}, limit?: string): string | undefined {
  const file = join(mkdtempSync(join(tmpdir(), 'fp-val-')), 'play.yaml');
  writeFileSync(file, yaml);
  try {
    validatePlaybook(loadPlaybook(file, fakeRegistry), inv, { extraVars, findTask: fakeFindTask, ...(limit ? { limit } : {}) });
    return undefined;
  } catch (e) {
    if (e instanceof PlaybookError) return e.userMessage();
    throw e;
  }
}

describe('validatePlaybook', () => {
  it('accepts a playbook using inventory vars, magic vars, registers, loops and handlers', () => {
    const yaml = `- hosts: pem_agents
  vars:
    crt: "{{ pem_cert_dir }}/{{ inventory_hostname }}.crt"
  tasks:
    - name: cert for {{ inventory_hostname }}
      copy:
        dest: "{{ crt }}"
        content: "{{ groups['pem_server'] | join(',') }} {{ hostvars['pemserver'].pem_db_port }}"
        mode: '0600'
      register: written
      notify: restart
    - command: echo {{ written.dest }} {{ fleetplay_run_id }}
      when: written.changed and not ansible_check_mode
      changed_when: false
    - copy:
        dest: "/tmp/{{ item.name }}"
        mode: "{{ item.mode }}"
      loop:
        - {name: a, mode: '0600'}
        - {name: b, mode: '0644'}
    - command: cat {{ f }}
      loop: "{{ written.files }}"
      loop_control: {loop_var: f}
    - command: echo {{ maybe | default('x') }}
      when: maybe is defined and maybe == 'y'
  handlers:
    - name: restart
      command: systemctl restart pemagent
      when: written.changed
`;
    expect(validate(yaml)).toBeUndefined();
  });

  it('validates args per loop item after rendering', () => {
    const msg = validate(`- hosts: pem_agents
  tasks:
    - copy:
        dest: "/tmp/{{ item.name }}"
        mode: "{{ item.mode }}"
      loop:
        - {name: a, mode: '0600'}
        - {name: b, mode: 420}
`);
    expect(msg).toContain('play.yaml:5:15: module copy: argument "mode" must be a string, but "{{ item.mode }}" renders to number 420');
  });

  it('extra vars define what the inventory does not', () => {
    const yaml = '- hosts: pem_agents\n  tasks:\n    - command: echo {{ release }}\n';
    expect(validate(yaml)).toContain('undefined variable "release"');
    expect(validate(yaml, { release: '1.2' })).toBeUndefined();
  });

  it('extra vars win over inventory and play vars', () => {
    const vars = hostVarsFor(inv, 'agent4', {
      playHosts: ['agent4'],
      playVars: { tier: 'play' },
      extraVars: { tier: 'extra' },
      checkMode: true,
      runId: 'r1',
    });
    expect(vars['tier']).toBe('extra');
    expect(vars['inventory_hostname']).toBe('agent4');
    expect(vars['group_names']).toEqual(['pem_agents', 'dc_east']);
    expect(vars['ansible_check_mode']).toBe(true);
    expect((vars['groups'] as Record<string, string[]>)['dc_east']).toEqual(['agent3', 'agent4']);
  });

  it('a --limit that names nothing is reported', () => {
    const msg = validate('- hosts: pem_agents\n  tasks:\n    - command: ls\n', {}, 'nohost');
    expect(msg).toContain('--limit: host pattern "nohost"');
  });

  it('checks conditions for undefined names and registers from later plays', () => {
    const msg = validate(`- hosts: pem_server
  tasks:
    - command: ls
      when: later_result.rc == 0
- hosts: pem_server
  tasks:
    - command: ls
      register: later_result
`);
    expect(msg).toContain('"later_result" is used before it is registered or set (by the task at line 8)');
  });

  it('handlers may use registers of any task of the play; changed_when its own', () => {
    expect(
      validate(`- hosts: pem_server
  tasks:
    - command: ls
      register: r
      changed_when: r.rc == 0
      notify: h
  handlers:
    - name: h
      command: echo {{ r.stdout }}
`),
    ).toBeUndefined();
  });
});
