/**
 * The playbook the fault tests break: eight tasks that change files of every kind the PEM playbooks
 * change (a config rewritten, a line added, a key replaced at 0600, a new file, a new directory),
 * with hooks where a test injects a slow command, a big SFTP upload, or a failing health check.
 */

export interface FaultPlaybookOptions {
  /** A controller file uploaded as etc/app/blob.bin (makes the SFTP upload long). */
  blob?: string;
  /** Seconds the "slow step" command sleeps, after touching `<root>/step-started`. */
  sleep?: number;
  /** Only these hosts run the slow step (the others wait for it: linear strategy). */
  sleepWhen?: string;
  /** The health check fails on this host. */
  failOn?: string;
}

export function faultPlaybook(o: FaultPlaybookOptions = {}): string {
  return `
- name: change the app
  hosts: web
  tasks:
    - name: app.conf
      copy:
        dest: "{{ root }}/etc/app/app.conf"
        content: "# managed\\nnew=2\\nhost={{ inventory_hostname }}\\n"
        mode: '0644'
    - name: a setting
      lineinfile:
        path: "{{ root }}/etc/app/extra.conf"
        regexp: '^b='
        line: "b=2"
    - name: the key
      copy:
        dest: "{{ root }}/etc/app/server.key"
        content: "NEW KEY BYTES for {{ inventory_hostname }}\\n"
        mode: '0600'
${
  o.blob === undefined
    ? ''
    : `    - name: big blob
      copy:
        src: ${JSON.stringify(o.blob)}
        dest: "{{ root }}/etc/app/blob.bin"
        mode: '0644'
`
}    - name: slow step
      command:
        argv: [sh, -c, 'touch "$1"; sleep ${o.sleep ?? 0}', sh, "{{ root }}/step-started"]
${o.sleepWhen === undefined ? '' : `      when: ${o.sleepWhen}\n`}    - name: health check
      command:
        argv: [sh, -c, 'test "$0" != "${o.failOn ?? 'none'}"', "{{ inventory_hostname }}"]
    - name: second file
      copy:
        dest: "{{ root }}/etc/app/second.conf"
        content: "second\\n"
        mode: '0644'
    - name: a directory
      file:
        path: "{{ root }}/etc/app/conf.d"
        state: directory
        mode: '0750'
    - name: third file
      copy:
        dest: "{{ root }}/etc/app/conf.d/third.conf"
        content: "third\\n"
        mode: '0640'
`;
}
