import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../src/pki/chain.js';
import { makeIntermediate, makeLeaf, makeRoot } from './fixtures.js';
import type { TestCa, TestLeaf } from './fixtures.js';
import { opensslVerify, workdir } from './referee.js';

const wd = workdir();
afterAll(() => wd.cleanup());
const DAY = 86_400_000;

let root: TestCa;
let rsaRoot: TestCa;
let inter: TestCa;
let other: TestCa;
let sameName: TestCa;
let leaf: TestLeaf;
const leaves: Record<string, TestLeaf> = {};

beforeAll(async () => {
  root = await makeRoot('Corp Root');
  rsaRoot = await makeRoot('Corp RSA Root', { type: 'rsa', bits: 2048 });
  inter = await makeIntermediate('Corp Intermediate', root);
  other = await makeRoot('Other Root');
  sameName = await makeRoot('Corp Root');
  leaf = await makeLeaf('agent1', inter);
  const now = Date.now();
  leaves.expired = await makeLeaf('agent-expired', root, { notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
  leaves.future = await makeLeaf('agent-future', root, { notBefore: new Date(now + DAY), notAfter: new Date(now + 10 * DAY) });
  leaves.impostor = await makeLeaf('agent-impostor', sameName);
  leaves.rsa = await makeLeaf('agent-rsa', rsaRoot, { spec: { type: 'rsa', bits: 2048 } });
});

type Case = [string, () => { leafFile: string; anchors: string }, boolean, string | undefined, number | undefined];
const cases: Case[] = [
  ['leaf + intermediate in the leaf file', () => ({ leafFile: leaf.certPem + inter.certPem, anchors: root.certPem }), true, undefined, undefined],
  ['leaf without its intermediate', () => ({ leafFile: leaf.certPem, anchors: root.certPem }), false, 'unable to get issuer', 20],
  ['intermediate as a trust anchor is not enough without its root', () => ({ leafFile: leaf.certPem, anchors: inter.certPem }), false, 'unable to get issuer', 2],
  ['wrong root', () => ({ leafFile: leaf.certPem + inter.certPem, anchors: other.certPem }), false, 'unable to get issuer', 20],
  ['multi-CA bundle', () => ({ leafFile: leaf.certPem + inter.certPem, anchors: other.certPem + root.certPem }), true, undefined, undefined],
  ['RSA chain', () => ({ leafFile: leaves.rsa!.certPem, anchors: rsaRoot.certPem }), true, undefined, undefined],
  ['expired leaf', () => ({ leafFile: leaves.expired!.certPem, anchors: root.certPem }), false, 'expired', 10],
  ['not yet valid leaf', () => ({ leafFile: leaves.future!.certPem, anchors: root.certPem }), false, 'not yet valid', 9],
  ['self-signed leaf not trusted', () => ({ leafFile: other.certPem, anchors: root.certPem }), false, 'self-signed certificate', 18],
  ['issuer with the same name but another key', () => ({ leafFile: leaves.impostor!.certPem, anchors: root.certPem }), false, 'unable to get issuer', 20],
];

describe('verifyChain agrees with openssl verify', () => {
  it.each(cases)('%s', (_name, mk, ok, error, code) => {
    const { leafFile, anchors } = mk();
    const ours = verifyChain({ leaf: leafFile, trustAnchors: anchors });
    const lf = wd.file('leaf.pem', leafFile);
    const theirs = opensslVerify(['-CAfile', wd.file('ca.pem', anchors), '-untrusted', lf, lf]);
    expect(theirs.ok).toBe(ok);
    expect(ours.ok).toBe(ok);
    expect(ours.error).toBe(error);
    if (!ok) {
      expect(theirs.code).toBe(code);
      expect(ours.opensslCode).toBe(code);
      expect(ours.detail).toBeTruthy();
    }
  });

  it('returns the chain of subjects', () => {
    const v = verifyChain({ leaf: leaf.certPem, intermediates: inter.certPem, trustAnchors: root.certPem });
    expect(v).toMatchObject({ ok: true, chain: ['/CN=agent1', '/O=Fleet Test/CN=Corp Intermediate', '/O=Fleet Test/CN=Corp Root'] });
  });

  it('checks validity at the given time', () => {
    const later = new Date(Date.now() + 400 * DAY);
    expect(verifyChain({ leaf: leaf.certPem + inter.certPem, trustAnchors: root.certPem, now: later })).toMatchObject({ ok: false, error: 'expired', errorDepth: 0 });
  });

  it('checks the purpose when asked (a server-only cert is not a client cert)', async () => {
    const srv = await makeLeaf('srv', root, { usage: 'server' });
    expect(verifyChain({ leaf: srv.certPem, trustAnchors: root.certPem, purpose: 'client' })).toMatchObject({ ok: false, error: 'invalid purpose' });
    const theirs = opensslVerify(['-purpose', 'sslclient', '-CAfile', wd.file('ca.pem', root.certPem), wd.file('srv.pem', srv.certPem)]);
    expect(theirs.code).toBe(26);
  });
});
