import { mergeTurns } from '../../src/providers/turns';

describe('mergeTurns', () => {
  it('joins the system turns, merges consecutive turns of one role and drops empty ones', () => {
    expect(
      mergeTurns([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi.' },
        { role: 'system', content: '' },
        { role: 'user', content: 'Still there?' },
        { role: 'assistant', content: '' },
        { role: 'system', content: 'Answer in French.' },
        { role: 'assistant', content: 'Oui.' },
      ]),
    ).toEqual({
      system: 'Be brief.\n\nAnswer in French.',
      turns: [
        { role: 'user', content: 'Hi.\n\nStill there?' },
        { role: 'assistant', content: 'Oui.' },
      ],
    });
  });

  it('gives an empty system text when there is none', () => {
    expect(mergeTurns([{ role: 'user', content: 'Hi.' }])).toEqual({ system: '', turns: [{ role: 'user', content: 'Hi.' }] });
  });
});
