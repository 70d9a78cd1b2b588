import { describe, expect, it } from 'vitest';
import { escapeHtml, html, raw } from './html.js';

describe('escaping', () => {
  it('escapes the five characters that can end text or an attribute, and leaves everything else as it is', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
    expect(escapeHtml('/media/derived/k.webp?exp=1&sig=a')).toBe('/media/derived/k.webp?exp=1&amp;sig=a');
    const plain = 'Photo 3: by Zoë, taken 9 Sept 2020, 08:08 📷';
    expect(escapeHtml(plain)).toBe(plain);
    expect(escapeHtml('')).toBe('');
  });

  it('escapes every interpolated value but markup', () => {
    const name = '<script>alert("x")</script>';
    expect(html`<p title="${name}">${name} ${raw('<b>ok</b>')} ${[name, html`<i>${'&'}</i>`]}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <b>ok</b> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<i>&amp;</i></p>',
    );
  });
});
