import { htmlToMarkdown } from '#knowledge/extract/html-to-markdown';
import { decodeEntities } from '#knowledge/extract/xml-entities';

describe('htmlToMarkdown (mammoth output)', () => {
  it('writes headings h1–h6 and paragraphs as blocks', () => {
    const html =
      '<h1>Title</h1><p>Intro <strong>bold</strong> and <em>em</em>.</p><h3>Deep</h3><h6>Deepest</h6><p>End</p>';
    expect(htmlToMarkdown(html)).toBe('# Title\n\nIntro bold and em.\n\n### Deep\n\n###### Deepest\n\nEnd');
  });

  it('escapes paragraph lines that would read as headings or fences; br breaks lines', () => {
    const html = '<p># one<br />```two<br />~~~ three<br />four</p><h2>## kept as heading text</h2>';
    expect(htmlToMarkdown(html)).toBe('\\# one\n\\```two\n\\~~~ three\nfour\n\n## ## kept as heading text');
  });

  it('writes nested unordered and ordered lists', () => {
    const html =
      '<p>Steps:</p><ol><li>First<ul><li>detail a</li><li>detail b</li></ul></li><li>Second</li></ol><p>After.</p>';
    expect(htmlToMarkdown(html)).toBe('Steps:\n\n1. First\n  - detail a\n  - detail b\n2. Second\n\nAfter.');
  });

  it('keeps list item text after a nested list', () => {
    expect(htmlToMarkdown('<ul><li>a<ul><li>b</li></ul>tail</li></ul>')).toBe('- a\n  - b\n  tail');
  });

  it('writes table rows with a header rule, cell paragraphs joined and pipes escaped', () => {
    const html =
      '<table><tr><th><p>Name</p></th><th><p>Notes</p></th></tr><tr><td><p>A|B</p></td><td><p>one</p><p>two</p></td></tr></table><p>x</p>';
    expect(htmlToMarkdown(html)).toBe('| Name | Notes |\n| --- | --- |\n| A\\|B | one two |\n\nx');
  });

  it('flattens a table inside a cell into that cell, and a list inside a cell', () => {
    const html =
      '<table><tr><td><table><tr><td><p>inner 1</p></td><td><p>inner 2</p></td></tr></table></td><td><ul><li>i</li><li>j</li></ul></td></tr></table>';
    expect(htmlToMarkdown(html)).toBe('| inner 1 inner 2 | i j |\n| --- | --- |');
  });

  it('drops images and footnote back-links, keeps link text and footnote text', () => {
    const html =
      '<p>See <a href="https://example.com">the site</a><sup><a href="#footnote-1" id="footnote-ref-1">[1]</a></sup> <img src="" /></p>' +
      '<ol><li id="footnote-1"><p>A note. <a href="#footnote-ref-1">↑</a></p></li></ol>';
    expect(htmlToMarkdown(html)).toBe('See the site[1]\n\n1. A note.');
  });

  it('decodes entities, once', () => {
    expect(htmlToMarkdown('<p>a &amp;lt; b &lt; c &quot;d&quot; &#x4e2d;&#25991;</p>')).toBe('a &lt; b < c "d" 中文');
  });

  it('writes nothing for empty markup', () => {
    expect(htmlToMarkdown('<p></p><h1> </h1><ul><li></li></ul><table><tr><td></td></tr></table>')).toBe('');
  });

  it('ignores stray closing tags and keeps stray text', () => {
    expect(htmlToMarkdown('</p></li>loose text<p>para</p></h2>')).toBe('loose text\n\npara');
  });
});

describe('decodeEntities', () => {
  it('leaves unknown and out-of-range references as written', () => {
    expect(decodeEntities('&copy; &#0; &#x110000; &#X41;')).toBe('&copy; &#0; &#x110000; A');
  });
});
