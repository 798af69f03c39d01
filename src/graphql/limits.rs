//! Operation limits checked before anything runs: a lexical scan that bounds the
//! document's size and nesting *before* the recursive-descent parser sees it (a
//! few KB of `[[[[…` would otherwise overflow the stack and abort the process),
//! then counts over the parsed document (aliases, root fields) before validation
//! and execution. Every refusal is a request error with its own `extensions.code`;
//! no upstream call is made for a refused operation.

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, Positioned, Request, ServerError, ServerResult};

use super::errors::code;

/// The bounds of one operation document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OperationLimits {
    /// Most lexical tokens (names, punctuators, values) a document may have.
    pub max_tokens: usize,
    /// Deepest nesting of `{`, `[` and `(` anywhere in the document.
    pub max_nesting: usize,
    /// Most aliased fields in the operation (fragments expanded).
    pub max_aliases: usize,
    /// Most fields directly under the operation's root (fragments expanded).
    pub max_root_fields: usize,
    /// Deepest nesting of data fields (introspection, bounded by the schema
    /// itself, is not counted, so tools such as GraphiQL can read the schema).
    pub max_depth: usize,
}

/// Why an operation was refused before it ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LimitError {
    #[error("the document has more than {0} tokens")]
    Tokens(usize),
    #[error("the document nests brackets deeper than {0} levels")]
    Nesting(usize),
    #[error("the operation has more than {0} aliases")]
    Aliases(usize),
    #[error("the operation asks for more than {0} root fields")]
    RootFields(usize),
    #[error("the operation nests fields deeper than {0} levels")]
    Depth(usize),
    #[error("the operation expands to more than {0} selections")]
    Selections(usize),
}

impl LimitError {
    pub(crate) fn code(&self) -> &'static str {
        match self {
            LimitError::Tokens(_) => code::QUERY_TOO_LARGE,
            LimitError::Nesting(_) | LimitError::Depth(_) => code::QUERY_TOO_DEEP,
            LimitError::Aliases(_) => code::TOO_MANY_ALIASES,
            LimitError::RootFields(_) => code::TOO_MANY_ROOT_FIELDS,
            LimitError::Selections(_) => code::QUERY_TOO_COMPLEX,
        }
    }

    fn into_server_error(self) -> ServerError {
        let code = self.code();
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, e| e.set("code", code))
            .into_server_error(Default::default())
    }
}

/// Scan a document's text without recursion: count tokens and track bracket
/// nesting, skipping strings, block strings and comments. Linear in the text,
/// constant stack, stops at the first bound crossed.
pub(crate) fn scan(text: &str, limits: &OperationLimits) -> Result<(), LimitError> {
    let bytes = text.as_bytes();
    let (mut i, mut depth, mut tokens) = (0usize, 0usize, 0usize);
    let token = |tokens: &mut usize| {
        *tokens += 1;
        if *tokens > limits.max_tokens {
            Err(LimitError::Tokens(limits.max_tokens))
        } else {
            Ok(())
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            // Byte-order mark.
            0xEF if bytes[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                token(&mut tokens)?;
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped delimiter inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
            }
            b'"' => {
                token(&mut tokens)?;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'{' | b'[' | b'(' => {
                token(&mut tokens)?;
                depth += 1;
                if depth > limits.max_nesting {
                    return Err(LimitError::Nesting(limits.max_nesting));
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                token(&mut tokens)?;
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                token(&mut tokens)?;
                i += 3;
            }
            c if c == b'_' || c == b'-' || c.is_ascii_alphanumeric() => {
                token(&mut tokens)?;
                while i < bytes.len()
                    && (bytes[i] == b'_'
                        || bytes[i] == b'.'
                        || bytes[i] == b'+'
                        || bytes[i] == b'-'
                        || bytes[i].is_ascii_alphanumeric())
                {
                    i += 1;
                }
            }
            _ => {
                token(&mut tokens)?;
                i += 1;
            }
        }
    }
    Ok(())
}

/// Count aliases and root fields of every operation in `doc`, expanding fragment
/// spreads and inline fragments. A fragment already being expanded is skipped (a
/// cycle is refused later by validation), and the walk itself is bounded so a
/// document of nested spreads cannot make it exponential.
pub(crate) fn count(doc: &ExecutableDocument, limits: &OperationLimits) -> Result<(), LimitError> {
    /// Most selections the walk visits (a generous multiple of what any bounded
    /// operation can reach).
    const MAX_VISITS: usize = 50_000;
    struct Walk<'a> {
        doc: &'a ExecutableDocument,
        limits: &'a OperationLimits,
        aliases: usize,
        visits: usize,
        active: HashSet<&'a str>,
    }
    impl<'a> Walk<'a> {
        fn set(
            &mut self,
            set: &'a Positioned<SelectionSet>,
            root: &mut Option<usize>,
            depth: usize,
        ) -> Result<(), LimitError> {
            for item in &set.node.items {
                self.visits += 1;
                if self.visits > MAX_VISITS {
                    return Err(LimitError::Selections(MAX_VISITS));
                }
                match &item.node {
                    Selection::Field(field) => {
                        if let Some(n) = root.as_mut() {
                            *n += 1;
                            if *n > self.limits.max_root_fields {
                                return Err(LimitError::RootFields(self.limits.max_root_fields));
                            }
                        }
                        if field.node.alias.is_some() {
                            self.aliases += 1;
                            if self.aliases > self.limits.max_aliases {
                                return Err(LimitError::Aliases(self.limits.max_aliases));
                            }
                        }
                        let name = field.node.name.node.as_str();
                        if name == "__schema" || name == "__type" {
                            continue;
                        }
                        if !field.node.selection_set.node.items.is_empty() {
                            if depth + 1 > self.limits.max_depth {
                                return Err(LimitError::Depth(self.limits.max_depth));
                            }
                            self.set(&field.node.selection_set, &mut None, depth + 1)?;
                        }
                    }
                    Selection::InlineFragment(frag) => {
                        self.set(&frag.node.selection_set, root, depth)?;
                    }
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        let Some(frag) = self.doc.fragments.get(&spread.node.fragment_name.node)
                        else {
                            continue;
                        };
                        if !self.active.insert(name) {
                            continue;
                        }
                        let result = self.set(&frag.node.selection_set, root, depth);
                        self.active.remove(name);
                        result?;
                    }
                }
            }
            Ok(())
        }
    }
    for (_, op) in doc.operations.iter() {
        let mut walk = Walk {
            doc,
            limits,
            aliases: 0,
            visits: 0,
            active: HashSet::new(),
        };
        walk.set(&op.node.selection_set, &mut Some(0), 1)?;
    }
    Ok(())
}

/// Whether any operation of `doc` selects `name` at its root (through inline
/// fragments and fragment spreads, one level).
fn selects_at_root(doc: &ExecutableDocument, name: &str) -> bool {
    fn walk(doc: &ExecutableDocument, set: &SelectionSet, name: &str, depth: usize) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => f.node.name.node == name,
            Selection::InlineFragment(f) => {
                depth < 8 && walk(doc, &f.node.selection_set.node, name, depth + 1)
            }
            Selection::FragmentSpread(s) => {
                depth < 8
                    && doc
                        .fragments
                        .get(&s.node.fragment_name.node)
                        .is_some_and(|f| walk(doc, &f.node.selection_set.node, name, depth + 1))
            }
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| walk(doc, &op.node.selection_set.node, name, 0))
}

/// Parse `request`'s document after [`scan`], check it with [`count`], and keep
/// it on the request, so async-graphql does not parse it again. With
/// introspection off the federation SDL (`_service`), which is the schema
/// itself, is kept to staff.
pub(crate) fn parse_checked(
    request: &mut Request,
    limits: &OperationLimits,
    introspection: bool,
    staff: bool,
) -> ServerResult<()> {
    scan(&request.query, limits).map_err(LimitError::into_server_error)?;
    let doc = request.parsed_query().map_err(coded)?;
    count(doc, limits).map_err(LimitError::into_server_error)?;
    if !introspection && !staff && selects_at_root(doc, "_service") {
        return Err(
            async_graphql::Error::new("the schema is not published to this caller")
                .extend_with(|_, e| e.set("code", code::FORBIDDEN))
                .into_server_error(Default::default()),
        );
    }
    Ok(())
}

/// Give async-graphql's own limit refusals (which carry only a message) the code
/// of the bound they crossed.
pub(crate) fn coded(mut err: ServerError) -> ServerError {
    let has_code = err
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    let m = err.message.as_str();
    let code = if m.starts_with("Query is too complex") {
        code::QUERY_TOO_COMPLEX
    } else if m.starts_with("Query is nested too deep") || m.starts_with("The recursion depth") {
        code::QUERY_TOO_DEEP
    } else if m.starts_with("The number of directives") {
        code::QUERY_TOO_COMPLEX
    } else {
        return err;
    };
    if !has_code {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    err
}

/// Whether an error is one of the refusals above (answered with HTTP 400).
pub(crate) fn is_limit_code(code: &str) -> bool {
    [
        code::QUERY_TOO_LARGE,
        code::QUERY_TOO_DEEP,
        code::TOO_MANY_ALIASES,
        code::TOO_MANY_ROOT_FIELDS,
        code::QUERY_TOO_COMPLEX,
    ]
    .contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: OperationLimits = OperationLimits {
        max_tokens: 1000,
        max_nesting: 8,
        max_aliases: 3,
        max_root_fields: 2,
        max_depth: 3,
    };

    fn parse(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).expect("test query parses")
    }

    #[test]
    fn a_hundred_thousand_nested_brackets_are_refused_without_recursion() {
        let q = format!(
            "{{ a(x: {}1{}) }}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(scan(&q, &LIMITS), Err(LimitError::Nesting(8)));
        let q = format!(
            "{{ a(x: {}1{}) }}",
            "{a:".repeat(100_000),
            "}".repeat(100_000)
        );
        assert_eq!(scan(&q, &LIMITS), Err(LimitError::Nesting(8)));
    }

    #[test]
    fn nesting_at_the_bound_passes_and_one_past_is_refused() {
        // `{ a(x: [[…]]) }` nests 2 + n levels.
        let at = format!("{{ a(x: {}1{}) }}", "[".repeat(6), "]".repeat(6));
        assert_eq!(scan(&at, &LIMITS), Ok(()));
        let past = format!("{{ a(x: {}1{}) }}", "[".repeat(7), "]".repeat(7));
        assert_eq!(scan(&past, &LIMITS), Err(LimitError::Nesting(8)));
    }

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        let q = format!(
            "{{ a(x: \"{0}\", y: \"\"\"{0} \\\"\"\" {0}\"\"\") # {0}\n }}",
            "[".repeat(50)
        );
        assert_eq!(scan(&q, &LIMITS), Ok(()));
    }

    #[test]
    fn token_count_is_bounded() {
        let q = format!("{{ {} }}", "a ".repeat(998));
        assert_eq!(scan(&q, &LIMITS), Ok(()));
        let q = format!("{{ {} }}", "a ".repeat(999));
        assert_eq!(scan(&q, &LIMITS), Err(LimitError::Tokens(1000)));
    }

    #[test]
    fn aliases_are_counted_through_fragments() {
        assert_eq!(count(&parse("{ a { x: b y: b z: b } }"), &LIMITS), Ok(()));
        let doc = parse("{ a { ...F ...F } } fragment F on A { x: b y: b }");
        assert_eq!(count(&doc, &LIMITS), Err(LimitError::Aliases(3)));
    }

    #[test]
    fn root_fields_are_counted_through_fragments() {
        assert_eq!(count(&parse("{ a b }"), &LIMITS), Ok(()));
        let doc = parse("{ a ... on Query { b } ...F } fragment F on Query { c }");
        assert_eq!(count(&doc, &LIMITS), Err(LimitError::RootFields(2)));
    }

    #[test]
    fn depth_counts_data_fields_but_not_introspection() {
        assert_eq!(count(&parse("{ a { b { c } } }"), &LIMITS), Ok(()));
        assert_eq!(
            count(&parse("{ a { b { c { d } } } }"), &LIMITS),
            Err(LimitError::Depth(3))
        );
        let introspection =
            "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }";
        assert_eq!(count(&parse(introspection), &LIMITS), Ok(()));
    }

    #[test]
    fn cyclic_fragments_do_not_hang_the_count() {
        let doc = parse("{ ...F } fragment F on Query { a { ...F } }");
        assert_eq!(count(&doc, &LIMITS), Ok(()));
    }

    #[test]
    fn exponential_fragment_expansion_is_cut_off() {
        let mut q = String::from("{ ...F0 }");
        for i in 0..30 {
            q.push_str(&format!(
                " fragment F{i} on Query {{ a {{ ...F{n} ...F{n} }} }}",
                n = i + 1
            ));
        }
        q.push_str(" fragment F30 on Query { b }");
        let limits = OperationLimits {
            max_nesting: 100,
            max_depth: 100,
            ..LIMITS
        };
        assert_eq!(
            count(&parse(&q), &limits),
            Err(LimitError::Selections(50_000))
        );
    }
}
