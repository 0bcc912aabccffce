import { buildDetectionView, originalSpan } from '#core/safety/detection-view';

describe('buildDetectionView', () => {
  it('is the text itself, with identity offsets, when the text is ASCII', () => {
    const view = buildDetectionView('call 138-1234-5678');
    expect(view).toEqual({ text: 'call 138-1234-5678', originStart: null, originEnd: null });
    expect(originalSpan(view, 5, 18)).toEqual({ start: 5, end: 18 });
  });

  it('maps full-width characters, spaces, dashes and dots to ASCII, one unit per character', () => {
    const view = buildDetectionView('１３８\u3000１２３４－５６７８．ｃｏｍ＠');
    expect(view.text).toBe('138 1234-5678.com@');
    expect(originalSpan(view, 0, view.text.length)).toEqual({ start: 0, end: 18 });
  });

  it('maps ideographic full stops, middle dots and every kind of space', () => {
    expect(buildDetectionView('a。b·c・d\u00a0e\u2009f\u202fg').text).toBe('a.b.c.d e f g');
  });

  it('drops zero-width and other format characters, keeping offsets of what remains', () => {
    const input = '1\u200b2\u200d3\ufeff4';
    const view = buildDetectionView(input);
    expect(view.text).toBe('1234');
    expect(originalSpan(view, 0, 4)).toEqual({ start: 0, end: input.length });
    expect(originalSpan(view, 1, 2)).toEqual({ start: 2, end: 3 });
  });

  it('lets a combining mark extend the span of the character before it', () => {
    const input = '中1\u0336\u0301x';
    const view = buildDetectionView(input);
    expect(view.text).toBe('中1x');
    expect(originalSpan(view, 1, 2)).toEqual({ start: 1, end: 4 });
  });

  it('maps a surrogate pair to its two original units, and an expansion to its one character', () => {
    const view = buildDetectionView('𝟏⑴');
    expect(view.text).toBe('1(1)');
    expect(originalSpan(view, 0, 1)).toEqual({ start: 0, end: 2 });
    expect(originalSpan(view, 2, 3)).toEqual({ start: 2, end: 3 });
  });

  it('leaves Chinese text as it is', () => {
    expect(buildDetectionView('你好，世界').text).toBe('你好,世界');
  });
});
