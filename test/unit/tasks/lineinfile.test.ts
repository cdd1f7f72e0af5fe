import { describe, expect, it } from 'vitest';
import { lineinfileTask } from '../../../src/tasks/lineinfile.js';
import { FakeHost } from '../../support/fake-probe.js';
import { planAndApply, planOn, rollbackOn } from '../../support/fake-steps.js';

const CONF = "# PostgreSQL\nssl = on\nssl_cert_file = 'server.crt'\nssl_crl_file = 'root.crl'\nport = 5432\n";
const P = '/var/lib/pgsql/data/postgresql.conf';

describe('lineinfile edits (args + file -> new content or no-change reason)', () => {
  const cases: Array<{ name: string; content?: string; args: Record<string, unknown>; after?: string; reason?: RegExp; failed?: RegExp }> = [
    { name: 'replace the line regexp matches', args: { regexp: '^port\\s*=', line: 'port = 5444' }, after: CONF.replace('port = 5432', 'port = 5444') },
    { name: 'regexp matches and line already right', args: { regexp: '^port', line: 'port = 5432' }, reason: /already reads as wanted/ },
    { name: 'append at EOF when nothing matches', args: { regexp: '^listen', line: "listen_addresses = '*'" }, after: `${CONF}listen_addresses = '*'\n` },
    { name: 'insertafter a marker', args: { line: 'ssl_ca_file = \'root.crt\'', insertafter: '^ssl_cert_file' }, after: CONF.replace("'server.crt'\n", "'server.crt'\nssl_ca_file = 'root.crt'\n") },
    { name: 'insertbefore BOF', args: { line: '# managed', insertbefore: 'BOF' }, after: `# managed\n${CONF}` },
    { name: 'exact line present without regexp', args: { line: 'ssl = on' }, reason: /already reads as wanted/ },
    { name: 'regexp misses but the exact line exists', args: { regexp: '^nomatch', line: 'ssl = on' }, reason: /already present/ },
    { name: 'backrefs rewrite', args: { regexp: "^(ssl_cert_file = )'([^/].*)'$", line: "\\1'/etc/pki/\\2'", backrefs: true }, after: CONF.replace("'server.crt'", "'/etc/pki/server.crt'") },
    { name: 'backrefs without a match leaves the file', args: { regexp: '^nomatch(.*)', line: '\\1', backrefs: true }, reason: /backrefs the file is left alone/ },
    { name: 'absent removes matching lines', args: { regexp: '^ssl', state: 'absent' }, after: '# PostgreSQL\nport = 5432\n' },
    { name: 'absent with nothing matching', args: { regexp: '^zzz', state: 'absent' }, reason: /nothing to remove/ },
    { name: 'comment_out ssl_crl_file', args: { regexp: '^\\s*ssl_crl_file\\s*=', comment_out: true }, after: CONF.replace('ssl_crl_file', '#ssl_crl_file') },
    { name: 'comment_out when already commented', content: CONF.replace('ssl_crl_file', '#ssl_crl_file'), args: { regexp: '^\\s*ssl_crl_file\\s*=', comment_out: true }, reason: /no uncommented line matches/ },
    { name: 'uncomment', content: CONF.replace('ssl_crl_file', '# ssl_crl_file'), args: { regexp: '^ssl_crl_file', uncomment: true }, after: CONF },
    { name: 'CRLF files keep CRLF', content: 'a=1\r\nb=2\r\n', args: { line: 'c=3' }, after: 'a=1\r\nb=2\r\nc=3\r\n' },
    { name: 'a last line without newline gets one before the append', content: 'a=1', args: { line: 'b=2' }, after: 'a=1\nb=2\n' },
    { name: 'python named groups', content: 'key = old\n', args: { regexp: '^(?P<k>key) = .*$', line: '\\g<k> = new', backrefs: true }, after: 'key = new\n' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const h = new FakeHost().file(P, c.content ?? CONF, { mode: 0o600, uid: 26, gid: 26 });
      const before = h.snapshot();
      const plan = await planOn(lineinfileTask, h, { path: P, ...c.args });
      expect(plan.failed).toBeUndefined();
      if (c.reason) {
        expect(plan.changed).toBe(false);
        expect(plan.reason).toMatch(c.reason);
        return;
      }
      expect(plan.changed).toBe(true);
      expect(plan.diff?.[0]?.after).toBe(c.after);
      await planAndApply(lineinfileTask, h, { path: P, ...c.args });
      expect(h.content(P)).toBe(c.after);
      expect(h.fs.get(P)).toMatchObject({ mode: 0o600, uid: 26, gid: 26 });
      const again = await planOn(lineinfileTask, h, { path: P, ...c.args });
      expect(again.changed).toBe(false);
      await rollbackOn(lineinfileTask, h, plan);
      expect(h.snapshot()).toEqual(before);
    });
  }

  it('missing file: fails without create, creates with create', async () => {
    const h = new FakeHost().dir('/etc/x');
    expect((await planOn(lineinfileTask, h, { path: '/etc/x/f', line: 'a' })).failed).toMatch(/set create: true/);
    const plan = await planAndApply(lineinfileTask, h, { path: '/etc/x/f', line: 'a', create: true, mode: '0640' });
    expect(h.content('/etc/x/f')).toBe('a\n');
    expect(h.fs.get('/etc/x/f')?.mode).toBe(0o640);
    await rollbackOn(lineinfileTask, h, plan);
    expect(h.fs.has('/etc/x/f')).toBe(false);
  });

  it('rejects bad argument combinations at load time', () => {
    expect(() => lineinfileTask.args.parse({ path: P })).toThrow(/needs line/);
    expect(() => lineinfileTask.args.parse({ path: P, comment_out: true })).toThrow(/need regexp/);
    expect(() => lineinfileTask.args.parse({ path: P, regexp: '(', line: 'x' })).toThrow(/not a valid regular expression/);
    expect(() => lineinfileTask.args.parse({ path: P, line: 'x', backrefs: true })).toThrow(/backrefs needs regexp/);
  });
});
