/**
 * The same work written for each tool: fleetplay playbooks, the equivalent Ansible playbooks, and
 * the hand-written shell for the rotate floor. Paths are under each host's root (`{{ root }}`),
 * which stands for that host's file system. Agent keys are RSA-2048; the CA is RSA-4096.
 */
export const NOOP_TASKS = 20;

/** `noop`: 20 `command: "true"` per host. The YAML is valid for both tools. */
export function noopPlaybook(): string {
  const tasks = Array.from({ length: NOOP_TASKS }, (_, i) => `    - name: noop ${i + 1}\n      command: "true"\n`).join('');
  return `- name: noop\n  hosts: agents\n  gather_facts: false\n  tasks:\n${tasks}`;
}

/** fleetplay's noop: as above, without Ansible's gather_facts keyword (fleetplay gathers none). */
export function noopPlaybookFleetplay(): string {
  return noopPlaybook().replace('  gather_facts: false\n', '');
}

const P = '{{ root }}/etc/pem';

/** `rotate` in fleetplay: its own modules, at their defaults. */
export function rotatePlaybookFleetplay(): string {
  return `- name: rotate the agent certificate
  hosts: agents
  tasks:
    - name: back up the old pair
      backup:
        paths: ["${P}/agent.key", "${P}/agent.crt"]
    - name: new agent key
      genkey: { path: "${P}/agent.key", type: rsa, size: 2048, regenerate: always }
    - name: CSR
      csr: { key: "${P}/agent.key", path: "${P}/agent.csr", subject: "/O=Bench/CN={{ inventory_hostname }}" }
    - name: sign with the controller's CA
      sign:
        csr: "${P}/agent.csr"
        dest: "${P}/agent.crt"
        usage: client
        days: 365
        ca: { cert: "{{ ca_cert }}", key: "{{ ca_key }}" }
    - name: key mode
      file: { path: "${P}/agent.key", mode: '0600' }
    - name: agent.cfg key
      ini: { path: "${P}/agent.cfg", section: PEM/agent, option: agent_ssl_key, value: "${P}/agent.key" }
    - name: agent.cfg cert
      ini: { path: "${P}/agent.cfg", section: PEM/agent, option: agent_ssl_crt, value: "${P}/agent.crt" }
    - name: restart the agent
      service:
        name: benchagent
        state: restarted
        manager: command
        commands:
          start: ["{{ svc }}", "{{ root }}", start]
          stop: ["{{ svc }}", "{{ root }}", stop]
          restart: ["{{ svc }}", "{{ root }}", restart]
          status: ["{{ svc }}", "{{ root }}", status]
    - name: verify the new certificate
      verify: { cert: "${P}/agent.crt", key: "${P}/agent.key", ca_bundle: "${P}/ca.crt", cn: "{{ inventory_hostname }}" }
`;
}

/**
 * `rotate` in Ansible, as an efficient hand would write it with builtin modules: openssl on the
 * host for key and CSR, the CSR passed in memory to openssl on the controller (the CA host,
 * delegate_to: localhost), the certificate copied back.
 */
export function rotatePlaybookAnsible(): string {
  return `- name: rotate the agent certificate
  hosts: agents
  gather_facts: false
  tasks:
    - name: back up the old pair
      command: cp -p ${P}/agent.key ${P}/agent.crt {{ root }}/backups/
    - name: new agent key
      command: openssl genrsa -out ${P}/agent.key 2048
    - name: CSR
      command: openssl req -new -key ${P}/agent.key -subj /O=Bench/CN={{ inventory_hostname }}
      register: csr
    - name: sign with the controller's CA
      command: openssl x509 -req -CA {{ ca_cert }} -CAkey {{ ca_key }} -set_serial {{ 9223372036854775807 | random }} -days 365 -extfile {{ ext_file }} -extensions v3
      args:
        stdin: "{{ csr.stdout }}"
      delegate_to: localhost
      register: cert
    - name: install the certificate
      copy: { content: "{{ cert.stdout }}\\n", dest: "${P}/agent.crt", mode: '0644' }
    - name: key mode
      file: { path: "${P}/agent.key", mode: '0600' }
    - name: agent.cfg key
      ini_file: { path: "${P}/agent.cfg", section: PEM/agent, option: agent_ssl_key, value: "${P}/agent.key", no_extra_spaces: true }
    - name: agent.cfg cert
      ini_file: { path: "${P}/agent.cfg", section: PEM/agent, option: agent_ssl_crt, value: "${P}/agent.crt", no_extra_spaces: true }
    - name: restart the agent
      command: "{{ svc }} {{ root }} restart"
    - name: verify the new certificate
      command: openssl verify -CAfile ${P}/ca.crt ${P}/agent.crt
`;
}

/**
 * The hand-written rotation of one host over plain ssh: one ssh for key and CSR (CSR on stdout),
 * openssl x509 on the controller, one ssh that installs the certificate (on stdin), edits
 * agent.cfg, restarts the service and verifies. Run for every host at once by rotate-floor.sh.
 * Positional: $1 = host root, $2 = svc.sh, $3 = CN.
 */
export const HOST_PART1 = `set -e; d="$1/etc/pem"; cp -p "$d/agent.key" "$d/agent.crt" "$1/backups/"; openssl genrsa -out "$d/agent.key" 2048 2>/dev/null; chmod 600 "$d/agent.key"; openssl req -new -key "$d/agent.key" -subj "/O=Bench/CN=$3"`;
export const HOST_PART2 = `set -e; d="$1/etc/pem"; cat > "$d/agent.crt.tmp"; mv "$d/agent.crt.tmp" "$d/agent.crt"; sed -i -e "s|^agent_ssl_key=.*|agent_ssl_key=$d/agent.key|" -e "s|^agent_ssl_crt=.*|agent_ssl_crt=$d/agent.crt|" "$d/agent.cfg"; "$2" "$1" restart; openssl verify -CAfile "$d/ca.crt" "$d/agent.crt" >/dev/null`;
