import { splitAtWordInterior } from './sse-writer';

describe('splitAtWordInterior', () => {
  it('cuts between the last two neighbouring non-space characters', () => {
    expect(splitAtWordInterior('Hello world')).toEqual(['Hello worl', 'd']);
    expect(splitAtWordInterior('Hello ')).toEqual(['Hell', 'o ']);
  });

  it('holds everything back when there is no such place', () => {
    expect(splitAtWordInterior('a')).toEqual(['', 'a']);
    expect(splitAtWordInterior('a b')).toEqual(['', 'a b']);
    expect(splitAtWordInterior('   ')).toEqual(['', '   ']);
  });

  it('never splits a surrogate pair', () => {
    const [emit, keep] = splitAtWordInterior('go🚀');
    expect(emit).toBe('go');
    expect(keep).toBe('🚀');
  });

  it('emits parts that concatenate back to the input and never start or end with whitespace', () => {
    const pieces = ['Once', ' upon', ' a', ' time,\n', 'there', ' was', ' 🚀', '.'];
    let held = '';
    const emitted: string[] = [];
    for (const piece of pieces) {
      const [emit, keep] = splitAtWordInterior(held + piece);
      if (emit) emitted.push(emit);
      held = keep;
    }
    emitted.push(held);
    expect(emitted.join('')).toBe(pieces.join(''));
    for (const part of emitted.slice(0, -1)) expect(part).toBe(part.trim());
  });
});
