import fc from 'fast-check';
import { MissingVariablesError, renderTemplate, templateVariables } from './prompt-template';

/** @returns `text` with its braces doubled, so {@link renderTemplate} gives it back unchanged. */
function escapeTemplateText(text: string): string {
  return text.replace(/[{}]/g, (c) => c + c);
}

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/);
/** Any text, braces and would-be placeholders included. */
const text = fc.oneof(fc.string(), fc.stringMatching(/^[a-z{} _]{0,30}$/));

describe('renderTemplate', () => {
  it('fills placeholders (documented example)', () => {
    expect(renderTemplate('Summarize the following text: {text}', { text: 'Sample text to summarize' })).toBe(
      'Summarize the following text: Sample text to summarize',
    );
  });

  it('reads {{ and }} as literal braces and keeps braces that start no placeholder', () => {
    expect(renderTemplate('{{x}} is {x}; json { "a": 1 } {1} {a-b} }', { x: 'X' })).toBe('{x} is X; json { "a": 1 } {1} {a-b} }');
    expect(renderTemplate('{{{x}}}', { x: 'X' })).toBe('{X}');
  });

  it('names every missing variable once, in order', () => {
    let error: unknown;
    try {
      renderTemplate('{a} {b} {a} {c}', { b: '' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MissingVariablesError);
    expect((error as MissingVariablesError).missing).toEqual(['a', 'c']);
  });

  it('does not take inherited properties for values', () => {
    expect(() => renderTemplate('{constructor} {toString}', {})).toThrow(MissingVariablesError);
  });

  it('property: a value is inserted verbatim, never expanded again (single pass)', () => {
    fc.assert(
      fc.property(name, text, text, text, (n, before, value, after) => {
        const content = escapeTemplateText(before) + `{${n}}` + escapeTemplateText(after);
        expect(renderTemplate(content, { [n]: value, other: 'never' })).toBe(before + value + after);
      }),
    );
  });

  it('property: escaped text renders back to itself and has no variables', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(renderTemplate(escapeTemplateText(s), {})).toBe(s);
        expect(templateVariables(escapeTemplateText(s))).toEqual([]);
      }),
    );
  });

  it('property: every name found is needed, and supplying them all renders with no braces left from placeholders', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(name.map((n) => ({ n })), text.map((t) => ({ t }))), { maxLength: 8 }), (parts) => {
        const content = parts.map((p) => ('n' in p ? `{${p.n}}` : escapeTemplateText(p.t))).join('');
        const names = [...new Set(parts.flatMap((p) => ('n' in p ? [p.n] : [])))];
        expect(templateVariables(content)).toEqual(names);
        const values = Object.fromEntries(names.map((n) => [n, `<${n}>`]));
        expect(renderTemplate(content, values)).toBe(parts.map((p) => ('n' in p ? `<${p.n}>` : p.t)).join(''));
        if (names.length) {
          const [first, ...rest] = names;
          const partial = Object.fromEntries(rest.map((n) => [n, 'v']));
          expect(() => renderTemplate(content, partial)).toThrow(new MissingVariablesError([first]));
        }
      }),
    );
  });

  it('property: unused variables change nothing', () => {
    fc.assert(
      fc.property(text, fc.dictionary(name, fc.string()), (s, extra) => {
        const content = escapeTemplateText(s);
        expect(renderTemplate(content, extra)).toBe(renderTemplate(content, {}));
      }),
    );
  });

  it('property: rendering never throws anything but MissingVariablesError, on any input', () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string(), fc.string()), (content, vars) => {
        try {
          renderTemplate(content, vars);
        } catch (err) {
          expect(err).toBeInstanceOf(MissingVariablesError);
        }
      }),
    );
  });

  it('is linear on long hostile input', () => {
    const content = '{'.repeat(50_000) + 'a'.repeat(50_000) + '{x'.repeat(50_000);
    const started = Date.now();
    expect(templateVariables(content)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
