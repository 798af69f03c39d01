//! Relay connections over upstream cursor pagination.
//!
//! Upstreams hand out one opaque cursor per page. A gateway cursor is that page
//! cursor plus how many items of the page were already seen, so every edge has a
//! cursor a client can resume after, and `endCursor` simply continues with the next
//! upstream page.

use async_graphql::connection::{Connection, Edge};
use async_graphql::OutputType;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::errors::bad_input;
use crate::domain::{Page, PageRequest};

/// Where to resume: an upstream page cursor (none = first page) and items to skip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Position {
    pub upstream: Option<String>,
    pub skip: usize,
}

impl Position {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            self.skip,
            self.upstream.as_deref().unwrap_or("")
        ))
    }

    pub fn decode(cursor: &str) -> async_graphql::Result<Self> {
        let bad = || bad_input("`after` is not a cursor this API handed out");
        let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (skip, upstream) = raw.split_once('|').ok_or_else(bad)?;
        let skip = skip.parse::<usize>().map_err(|_| bad())?;
        Ok(Self {
            upstream: (!upstream.is_empty()).then(|| upstream.to_owned()),
            skip,
        })
    }
}

/// Validated `first`/`after` arguments.
#[derive(Debug, Clone)]
pub(crate) struct PageArgs {
    pub first: usize,
    pub at: Position,
}

impl PageArgs {
    pub fn parse(
        first: Option<i32>,
        after: Option<String>,
        max: usize,
    ) -> async_graphql::Result<Self> {
        let first = first.unwrap_or(20);
        if first < 1 || first as usize > max {
            return Err(bad_input(format!("`first` must be between 1 and {max}")));
        }
        let at = match after {
            Some(c) => Position::decode(&c)?,
            None => Position::default(),
        };
        if at.skip > max {
            return Err(bad_input("`after` is not a cursor this API handed out"));
        }
        Ok(Self {
            first: first as usize,
            at,
        })
    }

    /// What to ask the upstream for: enough to skip what was seen and fill the page.
    pub fn request(&self, max: usize) -> PageRequest {
        PageRequest {
            limit: (self.first + self.at.skip).min(max),
            cursor: self.at.upstream.clone(),
        }
    }

    /// Turn the upstream page into a connection of `first` edges.
    pub fn connection<T, N: OutputType>(
        &self,
        page: Page<T>,
        node: impl Fn(T) -> Option<N>,
    ) -> Connection<String, N> {
        let total = page.items.len();
        let start = self.at.skip.min(total);
        let end = (start + self.first).min(total);
        let more_in_page = end < total;
        let has_next = more_in_page || page.next_cursor.is_some();
        let mut conn = Connection::new(self.at.upstream.is_some() || self.at.skip > 0, has_next);
        for (i, item) in page.items.into_iter().enumerate().take(end).skip(start) {
            let cursor = if i + 1 == total {
                // The last item of the upstream page: resume at the next page.
                match &page.next_cursor {
                    Some(next) => Position {
                        upstream: Some(next.clone()),
                        skip: 0,
                    },
                    None => Position {
                        upstream: self.at.upstream.clone(),
                        skip: i + 1,
                    },
                }
            } else {
                Position {
                    upstream: self.at.upstream.clone(),
                    skip: i + 1,
                }
            };
            if let Some(n) = node(item) {
                conn.edges.push(Edge::new(cursor.encode(), n));
            }
        }
        conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(items: std::ops::Range<u32>, next: Option<&str>) -> Page<u32> {
        Page {
            items: items.collect(),
            next_cursor: next.map(str::to_owned),
        }
    }

    #[test]
    fn cursors_round_trip() {
        let p = Position {
            upstream: Some("abc|def".into()),
            skip: 3,
        };
        assert_eq!(Position::decode(&p.encode()).unwrap(), p);
        assert!(Position::decode("%%%").is_err());
    }

    #[test]
    fn resuming_mid_page_skips_what_was_seen() {
        let args = PageArgs::parse(Some(2), None, 100).unwrap();
        let first = args.connection(page(0..2, Some("p2")), Some);
        let after = first.edges[0].cursor.clone();
        let args = PageArgs::parse(Some(2), Some(after), 100).unwrap();
        assert_eq!(args.request(100).limit, 3);
        let second = args.connection(page(0..3, Some("p2")), Some);
        let nodes: Vec<u32> = second.edges.iter().map(|e| e.node).collect();
        assert_eq!(nodes, vec![1, 2]);
        assert!(second.has_next_page);
    }

    #[test]
    fn first_out_of_range_is_bad_input() {
        assert!(PageArgs::parse(Some(0), None, 100).is_err());
        assert!(PageArgs::parse(Some(101), None, 100).is_err());
    }
}
