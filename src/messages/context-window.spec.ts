import { ProblemException } from '../common/problem';
import type { ChatTurn } from '../providers/model-provider';
import { fitToContextWindow, PER_MESSAGE_OVERHEAD } from './context-window';
import { titleFrom } from './messages.service';

/** One token per character keeps the arithmetic visible. */
const count = (text: string) => text.length;
const turn = (role: ChatTurn['role'], content: string): ChatTurn => ({ role, content });

describe('fitToContextWindow', () => {
  const history = [turn('user', 'aaaa'), turn('assistant', 'bbbb'), turn('user', 'cccc')];
  const each = 4 + PER_MESSAGE_OVERHEAD;

  it('keeps everything that fits, system prompt first', () => {
    expect(fitToContextWindow('sys', history, 100, count)).toEqual([turn('system', 'sys'), ...history]);
  });

  it('drops the oldest whole messages first and never cuts one', () => {
    expect(fitToContextWindow(null, history, 2 * each, count)).toEqual(history.slice(1));
    expect(fitToContextWindow(null, history, 2 * each + 3, count)).toEqual(history.slice(1));
    expect(fitToContextWindow(null, history, each, count)).toEqual(history.slice(2));
  });

  it('counts the system prompt against the budget', () => {
    const sys = 'x'.repeat(each - PER_MESSAGE_OVERHEAD);
    expect(fitToContextWindow(sys, history, 2 * each, count)).toEqual([turn('system', sys), history[2]]);
  });

  it('refuses with 422 when the newest message alone does not fit', () => {
    expect(() => fitToContextWindow(null, history, each - 1, count)).toThrow(ProblemException);
    try {
      fitToContextWindow('s', history, each, count);
      fail('expected a 422');
    } catch (err) {
      expect((err as ProblemException).getStatus()).toBe(422);
    }
  });

  it('keeps the newest 1,000-message tail within budget', () => {
    const long = Array.from({ length: 1000 }, (_, i) => turn(i % 2 ? 'assistant' : 'user', `m${String(i).padStart(3, '0')}`));
    const kept = fitToContextWindow(null, long, 100 * (4 + PER_MESSAGE_OVERHEAD), count);
    expect(kept).toHaveLength(100);
    expect(kept[kept.length - 1].content).toBe('m999');
    expect(kept[0].content).toBe('m900');
  });
});

describe('titleFrom', () => {
  it('keeps a short first message whole, on one line', () => {
    expect(titleFrom('  Tell me\n a story ')).toBe('Tell me a story');
  });

  it('cuts a long one at a word boundary with an ellipsis', () => {
    const title = titleFrom('word '.repeat(40));
    expect(title.endsWith('…')).toBe(true);
    expect(title.length).toBeLessThanOrEqual(61);
    expect(title).not.toContain('  ');
  });
});
