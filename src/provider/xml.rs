//! A small element tree for AWS Query-protocol answers, read with quick-xml.
//!
//! AWS answers are small (a widget image, 1,440 data points, an error) and are read by
//! path, so a tree is simpler than streaming. quick-xml does the lexing, so entities
//! (`&amp;`, numeric `&#65;`), CDATA sections, comments and namespace prefixes are
//! handled by a maintained parser rather than by string search. Elements are matched by
//! local name (`<ns:Code>` is `Code`); nesting is bounded so hostile input cannot exhaust
//! the stack when the tree is searched or dropped.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest nesting accepted; AWS answers are 5 levels deep.
const MAX_DEPTH: usize = 64;

/// One element: its local name, its own text (entities resolved, CDATA included, not
/// trimmed) and its child elements in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at `path` of child names below this one.
    pub fn path(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The first element named `name` at any depth, in document order (self included).
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

/// Parses `xml` into a tree under an unnamed document element (whose children are the
/// top-level elements). The error is one line saying what is wrong with the XML.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    loop {
        let event = reader
            .read_event()
            .map_err(|error| XmlError::NotWellFormed {
                position: reader.error_position(),
                error,
            })?;
        let top = stack.len() - 1;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.len() > MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let element = Element {
                    name: start.local_name().as_ref().to_string(),
                    ..Element::default()
                };
                if matches!(event, Event::Empty(_)) {
                    stack[top].children.push(element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .filter(|_| top > 0)
                    .ok_or(XmlError::UnmatchedEnd)?;
                stack[top - 1].children.push(done);
            }
            Event::Text(text) => stack[top].text.push_str(&text.xml10_content()),
            Event::CData(data) => stack[top].text.push_str(&data.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&reference)
                        .ok_or_else(|| XmlError::UnknownEntity(reference.to_string()))?
                        .to_string(),
                    Err(e) => return Err(XmlError::CharRef(e)),
                };
                stack[top].text.push_str(&resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    match stack.pop() {
        Some(root) if stack.is_empty() => Ok(root),
        _ => Err(XmlError::Unclosed),
    }
}

/// Why a text is not XML we can read; one line.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// quick-xml's error, at a byte offset.
    #[error("not well-formed XML at byte {position}: {error}")]
    NotWellFormed {
        position: u64,
        error: quick_xml::Error,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("XML nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    /// An end tag with no start.
    #[error("unmatched end tag")]
    UnmatchedEnd,
    /// An entity other than the predefined five (its name).
    #[error("unknown XML entity &{0};")]
    UnknownEntity(String),
    /// A numeric character reference that is no character.
    #[error("bad character reference: {0}")]
    CharRef(quick_xml::Error),
    /// The text ends with elements still open.
    #[error("XML ends inside an element")]
    Unclosed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_numeric_references_and_cdata() {
        let doc = parse(
            "<a><b>&#65;&#x42;&amp;&lt;&quot;</b><c><![CDATA[x<&>y]]></c><d>1 &amp; <![CDATA[2]]></d></a>",
        )
        .unwrap();
        let a = doc.child("a").unwrap();
        assert_eq!(a.child("b").unwrap().text, "AB&<\"");
        assert_eq!(a.child("c").unwrap().text, "x<&>y");
        assert_eq!(a.child("d").unwrap().text, "1 & 2");
    }

    #[test]
    fn prefixes_empty_elements_and_paths() {
        let doc = parse(
            "<?xml version=\"1.0\"?><!-- c --><r xmlns:x=\"u\"><x:Code>C</x:Code><L/><L>2</L></r>",
        )
        .unwrap();
        assert_eq!(doc.path(&["r", "Code"]).unwrap().text, "C");
        assert_eq!(doc.find("Code").unwrap().text, "C");
        let texts: Vec<&str> = doc
            .child("r")
            .unwrap()
            .children_named("L")
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(texts, ["", "2"]);
        assert!(doc.find("Codex").is_none());
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in ["<a><b></a>", "<a>", "</a>", "<a>&bogus;</a>", "<a>&#0;</a>"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 2);
        assert!(parse(&deep).unwrap_err().to_string().contains("deeper"));
    }
}
