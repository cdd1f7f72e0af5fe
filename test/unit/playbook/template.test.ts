import { describe, expect, it } from 'vitest';
import { TemplateError, evalCondition, renderValue, templateVariables } from '../../../src/playbook/template.js';

const vars = {
  port: 5444,
  dir: '/root/.pem',
  path: '{{ dir }}/agent.crt',
  list: [3, 1, 3, 2],
  empty: [],
  hosts: [{ name: 'a1', id: 1 }, { name: 'a2', id: 2 }],
  country: 'NO',
  flag: 'yes',
  self: '{{ self }}',
  nothing: null,
};

function err(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error('expected a TemplateError');
}

describe('renderValue', () => {
  it('keeps the native type of a single expression', () => {
    expect(renderValue('{{ port }}', vars)).toBe(5444);
    expect(renderValue('{{ list | unique }}', vars)).toEqual([3, 1, 2]);
    expect(renderValue('{{ hosts | map(attribute="id") | list }}', vars)).toEqual([1, 2]);
    expect(renderValue('{{ nothing }}', vars)).toBeNull();
  });

  it('renders mixed text as a string and recurses into structures', () => {
    expect(renderValue('port={{ port }}', vars)).toBe('port=5444');
    expect(renderValue({ a: ['{{ dir }}/x', 7, true], b: 'NO' }, vars)).toEqual({ a: ['/root/.pem/x', 7, true], b: 'NO' });
  });

  it('renders variables whose values are templates (lazily, like Ansible)', () => {
    expect(renderValue('{{ path }}', vars)).toBe('/root/.pem/agent.crt');
  });

  it('never turns NO into a boolean', () => {
    expect(renderValue('{{ country }}', vars)).toBe('NO');
    expect(renderValue('{{ country | lower }}', vars)).toBe('no');
  });

  it('names an undefined variable instead of rendering an empty string', () => {
    const e = err(() => renderValue('x{{ missing }}y', vars));
    expect(e.variable).toBe('missing');
    expect(e.message).toBe('undefined variable "missing"');
    expect(err(() => renderValue('{{ missing.attr }}', vars)).variable).toBe('missing');
    expect(err(() => renderValue('{{ missing | lower }}', vars)).variable).toBe('missing');
    expect(err(() => renderValue('{{ dri }}', vars)).hint).toContain('did you mean "dir"?');
  });

  it('reports a missing attribute and a self-referencing variable', () => {
    expect(err(() => renderValue('{{ hosts[0].nope }}', vars)).message).toContain('is undefined');
    expect(err(() => renderValue('{{ self }}', vars)).message).toContain('refers to itself');
  });

  it('supports the Ansible filters ops people use', () => {
    const r = (s: string): unknown => renderValue(s, vars);
    expect(r('{{ missing | default("x") }}')).toBe('x');
    expect(r('{{ missing | d(3) }}')).toBe(3);
    expect(r('{{ "" | default("e", true) }}')).toBe('e');
    expect(r('{{ flag | bool }}')).toBe(true);
    expect(r('{{ "off" | bool }}')).toBe(false);
    expect(r('{{ "42" | int + 1 }}')).toBe(43);
    expect(r('{{ port | string }}')).toBe('5444');
    expect(r('{{ "  A b " | trim | upper }}')).toBe('A B');
    expect(r('{{ "a-b-c" | replace("-", "+") }}')).toBe('a+b+c');
    expect(r('{{ "agent12.crt" | regex_replace("^agent(\\\\d+)\\\\.crt$", "id=\\\\1") }}')).toBe('id=12');
    expect(r('{{ "CN=agent7" | regex_search("agent\\\\d+") }}')).toBe('agent7');
    expect(r('{{ "CN=x" | regex_search("nomatch") }}')).toBeNull();
    expect(r('{{ "/usr/edb/pem/agent.cfg" | basename }}')).toBe('agent.cfg');
    expect(r('{{ "/usr/edb/pem/agent.cfg" | dirname }}')).toBe('/usr/edb/pem');
    expect(r('{{ "héllo" | b64encode | b64decode }}')).toBe('héllo');
    expect(r('{{ {"a": 1} | to_json }}')).toBe('{"a":1}');
    expect(r('{{ "{\\"a\\": [1]}" | from_json }}')).toEqual({ a: [1] });
    expect(r('{{ {"a": 1} | to_yaml }}')).toBe('a: 1');
    expect(r('{{ list | join(",") }}')).toBe('3,1,3,2');
    expect(r('{{ list | length }}')).toBe(4);
    expect(r('{{ list | first }}-{{ list | last }}')).toBe('3-2');
    expect(r('{{ list | select("odd") | list }}')).toEqual([3, 1, 3]);
    expect(r('{{ list | map("string") | list }}')).toEqual(['3', '1', '3', '2']);
    expect(r("{{ \"it's; rm -rf /\" | quote }}")).toBe("'it'\\''s; rm -rf /'");
    expect(err(() => r('{{ missing | mandatory }}')).variable).toBe('missing');
  });

  it('reports template syntax errors and unknown filters', () => {
    expect(err(() => renderValue('{{ dir }/x', vars)).message).toContain('cannot parse template');
    expect(err(() => renderValue('{{ dir | nosuchfilter }}', vars)).message).toContain('filter not found: nosuchfilter');
  });
});

describe('evalCondition', () => {
  it('evaluates bare Jinja expressions with Python truth rules', () => {
    expect(evalCondition('port == 5444', vars)).toBe(true);
    expect(evalCondition('port > 6000 or dir == "/root/.pem"', vars)).toBe(true);
    expect(evalCondition('empty', vars)).toBe(false);
    expect(evalCondition('not empty', vars)).toBe(true);
    expect(evalCondition('list', vars)).toBe(true);
    expect(evalCondition('2 in list and 9 not in list', vars)).toBe(true);
    expect(evalCondition('missing is defined', vars)).toBe(false);
    expect(evalCondition('missing is not defined', vars)).toBe(true);
    expect(evalCondition('missing is defined and missing.x == 1', vars)).toBe(false);
    expect(evalCondition('{{ port == 5444 }}', vars)).toBe(true);
    expect(evalCondition(false, vars)).toBe(false);
    expect(evalCondition('True', vars)).toBe(true);
  });

  it('fails on an undefined variable, even under not/and/or', () => {
    expect(err(() => evalCondition('missing', vars)).variable).toBe('missing');
    expect(err(() => evalCondition('not missing', vars)).variable).toBe('missing');
    expect(err(() => evalCondition('port == 5444 and missing', vars)).variable).toBe('missing');
    expect(err(() => evalCondition('missing == "a"', vars)).variable).toBe('missing');
  });
});

describe('templateVariables', () => {
  it('lists top-level names, not loop variables, filters, tests or globals', () => {
    expect(
      templateVariables('{{ a.b | default(c) }}{% for x in xs %}{{ x }}{{ loop.index }}{% endfor %}{{ d is defined }}{{ range(3) }}{{ e[f] }}'),
    ).toEqual(['a', 'c', 'xs', 'd', 'e', 'f']);
    expect(templateVariables('plain text')).toEqual([]);
  });
});

describe('templateRefs guards', () => {
  it('treats reads under default / is defined / a defined-guarded and/if as guarded', async () => {
    const { templateRefs } = await import('../../../src/playbook/template.js');
    const unguarded = (s: string, cond = false): string[] => templateRefs(s, cond).filter((r) => !r.guarded).map((r) => r.name);
    expect(unguarded("{{ x | default('a') }}")).toEqual([]);
    expect(unguarded("x is defined and x == 'y'", true)).toEqual([]);
    expect(unguarded('{% if x is defined %}{{ x }}{% endif %}')).toEqual([]);
    expect(unguarded("x == 'y' and x is defined", true)).toEqual(['x']);
    expect(unguarded('{{ x }}{{ y | default(x) }}')).toEqual(['x', 'x']);
  });
});
