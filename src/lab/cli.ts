/**
 * `fleetplay lab up|status|down`: the local PEM-like fleet (src/lab/lab.ts), for the demo, the
 * end-to-end tests and trying playbooks safely.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { say } from '../report/console.js';
import { labDown, labStatus, labUp } from './lab.js';

export const DEFAULT_LAB_DIR = 'lab';

export function labCommand(setCode: (n: number) => void): Command {
  const lab = new Command('lab').description('a local PEM fleet: PostgreSQL with client-certificate auth, OpenSSH hosts, agents');
  lab
    .command('up')
    .description('build and start the lab (idempotent)')
    .option('--agents <n>', 'number of agents (one is on the PEM server host)', '5')
    .option('--dir <dir>', 'lab directory', DEFAULT_LAB_DIR)
    .action(async (o: { agents: string; dir: string }) => {
      const agents = Number(o.agents);
      if (!Number.isInteger(agents) || agents < 1 || agents > 200) throw new UsageError(`--agents ${o.agents}: expected 1 to 200`);
      const dir = resolve(o.dir);
      say(`lab: starting ${agents} agent(s) in ${dir} ...`);
      const st = await labUp({ dir, agents });
      say(`lab ${(st as { alreadyUp?: boolean }).alreadyUp ? 'already up' : 'up'}: inventory ${resolve(dir, 'inventory.yaml')}; secrets (0600) in ${resolve(dir, 'secrets.env')}`);
      setCode(0);
    });
  lab
    .command('status')
    .description('per agent: last heartbeat, certificate in use and its issuer')
    .option('--dir <dir>', 'lab directory', DEFAULT_LAB_DIR)
    .action(async (o: { dir: string }) => {
      const st = await labStatus(resolve(o.dir));
      say(`lab ${st.dir}: ${st.up ? 'up' : 'down'}; database port ${st.db.port} ${st.db.running ? 'running' : 'NOT running'}`);
      for (const a of st.agents) {
        const c = a.lastHeartbeatCert ?? a.cert;
        say(
          `  agent${a.id} on ${a.host}: ${a.running ? 'running' : 'stopped'}, ${a.healthy ? 'healthy' : 'NOT healthy'}; last heartbeat ${a.lastHeartbeat ?? 'never'}` +
            (c ? `; cert ${c.subject} issued by ${c.issuer}` : '') +
            (a.lastError && !a.healthy ? `; last error: ${a.lastError.message}` : ''),
        );
      }
      setCode(st.up && st.agents.every((a) => a.healthy) ? 0 : 1);
    });
  lab
    .command('down')
    .description('stop every process the lab started (by PID); keeps the files')
    .option('--dir <dir>', 'lab directory', DEFAULT_LAB_DIR)
    .action(async (o: { dir: string }) => {
      const r = await labDown(resolve(o.dir));
      say(`lab down: stopped ${r.stopped.length} process(es)${r.problems.length ? `; problems: ${r.problems.join('; ')}` : ''}`);
      setCode(r.problems.length ? 1 : 0);
    });
  return lab;
}
