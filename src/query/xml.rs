//! A small XML reader for FetchXML: elements, attributes, text, entity and character references, comments,
//! processing instructions (the `<?xml ?>` declaration) and CDATA sections.
//!
//! It never panics and never recurses: the tree is built with an explicit stack limited to [`MAX_DEPTH`] levels,
//! so hostile input cannot overflow the stack. Document type declarations (`<!DOCTYPE`) are refused, which rules
//! out entity expansion attacks. Errors are [`ErrorCode::InvalidFetchXml`](crate::error::ErrorCode) and carry the
//! byte offset of the problem.

use crate::error::{Error, Result};

/// The deepest element nesting accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// The most attributes one element may carry (keeps the duplicate check linear).
pub(crate) const MAX_ATTRIBUTES: usize = 64;

/// An XML element.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Element {
    /// Tag name as written.
    pub name: String,
    /// Attributes in document order (names are unique).
    pub attrs: Vec<(String, String)>,
    /// Child nodes in document order.
    pub children: Vec<Node>,
    /// Byte offset of the `<` that opens the element.
    pub offset: usize,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A nested element.
    Element(Element),
    /// Character data (entity references decoded, CDATA included as is).
    Text(String),
}

impl Element {
    /// The value of an attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl DoubleEndedIterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The concatenated text children.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// Whether the element has non-whitespace text.
    pub fn has_text(&self) -> bool {
        self.children.iter().any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()))
    }
}

fn err(offset: usize, what: impl std::fmt::Display) -> Error {
    Error::fetchxml(format!("FetchXML is not well formed: {what} at byte {offset}"))
}

fn is_delim(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>' | b'<' | b'=' | b'"' | b'\'' | b'&' | b'?' | b'!')
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

struct Reader<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.bytes.get(self.pos..).is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// Skips past the next `end`, or fails with `what` unterminated.
    fn skip_past(&mut self, end: &str, what: &str) -> Result<&'a str> {
        let start = self.pos;
        match self.src.get(start..).and_then(|rest| rest.find(end)) {
            Some(i) => {
                self.pos = start + i + end.len();
                Ok(self.src.get(start..start + i).unwrap_or(""))
            }
            None => Err(err(start, format_args!("unterminated {what}"))),
        }
    }

    fn name(&mut self) -> Result<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_delim(b)) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(err(start, "expected a name"));
        }
        // Delimiters are ASCII, so both ends are char boundaries.
        Ok(self.src.get(start..self.pos).unwrap_or(""))
    }

    /// Reads `<?...?>`, `<!--...-->` or `<![CDATA[...]]>` if one starts here; CDATA text is returned.
    fn misc(&mut self) -> Result<Option<Option<&'a str>>> {
        if self.starts_with("<?") {
            self.pos += 2;
            self.skip_past("?>", "processing instruction")?;
            Ok(Some(None))
        } else if self.starts_with("<!--") {
            self.pos += 4;
            let body = self.skip_past("-->", "comment")?;
            if body.contains("--") {
                return Err(err(self.pos, "'--' inside a comment"));
            }
            Ok(Some(None))
        } else if self.starts_with("<![CDATA[") {
            self.pos += 9;
            Ok(Some(Some(self.skip_past("]]>", "CDATA section")?)))
        } else if self.starts_with("<!") {
            Err(err(self.pos, "document type declarations are not allowed"))
        } else {
            Ok(None)
        }
    }

    /// Decodes text up to the next `<` (or `quote` inside an attribute value).
    fn text_until(&mut self, stop: u8) -> Result<String> {
        let mut out = String::new();
        let mut run = self.pos;
        while let Some(b) = self.peek() {
            if b == stop {
                break;
            }
            if b == b'<' {
                return Err(err(self.pos, "'<' inside an attribute value"));
            }
            if b == b'&' {
                out.push_str(self.src.get(run..self.pos).unwrap_or(""));
                out.push(self.entity()?);
                run = self.pos;
            } else {
                self.pos += 1;
            }
        }
        out.push_str(self.src.get(run..self.pos).unwrap_or(""));
        Ok(out)
    }

    fn char_data(&mut self) -> Result<String> {
        let mut out = String::new();
        let mut run = self.pos;
        while let Some(b) = self.peek() {
            if b == b'<' {
                break;
            }
            if b == b'&' {
                out.push_str(self.src.get(run..self.pos).unwrap_or(""));
                out.push(self.entity()?);
                run = self.pos;
            } else {
                self.pos += 1;
            }
        }
        out.push_str(self.src.get(run..self.pos).unwrap_or(""));
        Ok(out)
    }

    /// Reads `&name;` at the current position.
    fn entity(&mut self) -> Result<char> {
        let start = self.pos;
        let rest = self.src.get(start + 1..).unwrap_or("");
        let end = rest.bytes().take(12).position(|b| b == b';').ok_or_else(|| err(start, "unterminated entity"))?;
        let name = rest.get(..end).unwrap_or("");
        self.pos = start + 1 + end + 1;
        let c = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    return Err(err(start, format_args!("unknown entity '&{name};'")));
                };
                code.filter(|&c| c != 0).and_then(char::from_u32)
            }
        };
        c.ok_or_else(|| err(start, format_args!("invalid character reference '&{name};'")))
    }

    /// Reads the attributes of a start tag; returns whether the tag closes itself.
    fn attributes(&mut self, el: &mut Element) -> Result<bool> {
        loop {
            let before = self.pos;
            self.skip_space();
            match self.peek() {
                None => return Err(err(self.pos, format_args!("unterminated tag <{}>", el.name))),
                Some(b'>') => {
                    self.pos += 1;
                    return Ok(false);
                }
                Some(b'/') => {
                    self.pos += 1;
                    if self.peek() != Some(b'>') {
                        return Err(err(self.pos, "expected '>' after '/'"));
                    }
                    self.pos += 1;
                    return Ok(true);
                }
                Some(_) => {
                    if self.pos == before {
                        return Err(err(self.pos, "expected whitespace before an attribute"));
                    }
                    let at = self.pos;
                    let name = self.name()?.to_string();
                    self.skip_space();
                    if self.peek() != Some(b'=') {
                        return Err(err(self.pos, format_args!("expected '=' after attribute '{name}'")));
                    }
                    self.pos += 1;
                    self.skip_space();
                    let quote = match self.peek() {
                        Some(q @ (b'"' | b'\'')) => q,
                        _ => return Err(err(self.pos, format_args!("expected a quoted value for '{name}'"))),
                    };
                    self.pos += 1;
                    let value = self.text_until(quote)?;
                    if self.peek() != Some(quote) {
                        return Err(err(self.pos, format_args!("unterminated value of '{name}'")));
                    }
                    self.pos += 1;
                    if el.attrs.len() >= MAX_ATTRIBUTES {
                        return Err(err(at, format_args!("more than {MAX_ATTRIBUTES} attributes on <{}>", el.name)));
                    }
                    if el.attr(&name).is_some() {
                        return Err(err(at, format_args!("duplicate attribute '{name}'")));
                    }
                    el.attrs.push((name, value));
                }
            }
        }
    }
}

/// Parses a document and returns its root element.
pub(crate) fn parse(src: &str) -> Result<Element> {
    let mut r = Reader { src, bytes: src.as_bytes(), pos: 0 };
    if r.starts_with("\u{feff}") {
        r.pos += 3;
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        if stack.is_empty() {
            // Prolog or epilog: whitespace, comments and processing instructions only.
            r.skip_space();
            if r.peek().is_none() {
                break;
            }
            match r.misc()? {
                Some(None) => continue,
                Some(Some(_)) => return Err(err(r.pos, "CDATA outside the root element")),
                None => {}
            }
            if r.peek() != Some(b'<') {
                return Err(err(r.pos, "text outside the root element"));
            }
            if root.is_some() {
                return Err(err(r.pos, "more than one root element"));
            }
        } else {
            match r.misc()? {
                Some(Some(cdata)) => {
                    if let Some(top) = stack.last_mut() {
                        top.children.push(Node::Text(cdata.to_string()));
                    }
                    continue;
                }
                Some(None) => continue,
                None => {}
            }
            if r.peek().is_none() {
                let name = stack.last().map(|e| e.name.clone()).unwrap_or_default();
                return Err(err(r.pos, format_args!("element <{name}> is not closed")));
            }
            if r.peek() != Some(b'<') {
                let text = r.char_data()?;
                if let Some(top) = stack.last_mut() {
                    top.children.push(Node::Text(text));
                }
                continue;
            }
        }
        // At '<'.
        let at = r.pos;
        r.pos += 1;
        if r.peek() == Some(b'/') {
            r.pos += 1;
            let name = r.name()?;
            r.skip_space();
            if r.peek() != Some(b'>') {
                return Err(err(r.pos, "expected '>'"));
            }
            r.pos += 1;
            let Some(el) = stack.pop() else {
                return Err(err(at, format_args!("unexpected closing tag </{name}>")));
            };
            if el.name != name {
                return Err(err(at, format_args!("</{name}> closes <{}>", el.name)));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(Node::Element(el)),
                None => root = Some(el),
            }
            continue;
        }
        let name = r.name()?.to_string();
        let mut el = Element { name, attrs: Vec::new(), children: Vec::new(), offset: at };
        let closed = r.attributes(&mut el)?;
        if closed {
            match stack.last_mut() {
                Some(parent) => parent.children.push(Node::Element(el)),
                None => root = Some(el),
            }
        } else {
            if stack.len() >= MAX_DEPTH {
                return Err(err(at, format_args!("elements nested deeper than {MAX_DEPTH} levels")));
            }
            stack.push(el);
        }
    }
    root.ok_or_else(|| err(r.pos, "no root element"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_attributes_text() {
        let doc = "<?xml version=\"1.0\"?><!-- c --><a x='1' y=\"&lt;&#65;&#x42;&amp;\"><b/>t&gt;<![CDATA[<c>]]></a>";
        let a = parse(doc).expect("parses");
        assert_eq!(a.name, "a");
        assert_eq!(a.attr("x"), Some("1"));
        assert_eq!(a.attr("y"), Some("<AB&"));
        assert_eq!(a.elements().count(), 1);
        assert_eq!(a.text(), "t><c>");
    }

    #[test]
    fn errors_carry_offsets() {
        let e = parse("<a><b></a>").unwrap_err();
        assert!(e.message.contains("at byte 6"), "{}", e.message);
        assert!(parse("<a x='1' x='2'/>").is_err());
        assert!(parse("<!DOCTYPE a><a/>").is_err());
        assert!(parse("<a/><b/>").is_err());
        assert!(parse("<a>&foo;</a>").is_err());
        assert!(parse("<a>&#0;</a>").is_err());
        assert!(parse("").is_err());
        let deep = "<a>".repeat(100);
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
    }
}
