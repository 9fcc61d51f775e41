//! HTML escaping exactly as Jinja2/MarkupSafe does it, which the external
//! tests assert: `&` `<` `>` `"` `'` become `&amp;` `&lt;` `&gt;` `&#34;`
//! `&#39;`, and nothing else changes.

/// Escapes `input` for HTML text and quoted attribute values.
pub(crate) fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escapes_the_five_characters_like_markupsafe() {
        assert_eq!(escape_html("&"), "&amp;");
        assert_eq!(escape_html("<x>"), "&lt;x&gt;");
        assert_eq!(escape_html("\"foo\""), "&#34;foo&#34;");
        assert_eq!(escape_html("it's"), "it&#39;s");
        assert_eq!(
            escape_html(r#"You are now following "foo""#),
            "You are now following &#34;foo&#34;"
        );
        assert_eq!(
            escape_html(r#"<a href="x">&'"#),
            "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn leaves_everything_else_alone() {
        for text in ["a/b", "=`", "Zoë 李 🦀", "", "plain text", "&amp"] {
            let expected = text.replace('&', "&amp;");
            assert_eq!(escape_html(text), expected);
        }
    }
}
