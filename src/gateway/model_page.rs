//! Paging of `GET /v1/models` as Anthropic's API pages it: `limit`, `after_id`, `before_id`
//! in the query; `first_id`, `last_id` and `has_more` in the answer. The OpenAI SDKs send none
//! of these and get the whole list.
//!
//! The list is sorted by name, so a cursor is a position in that order, not an index: a page
//! after a model that has since left the list still starts where it should.

use percent_encoding::percent_decode_str;

use super::error::GatewayError;

/// The most models one page holds (Anthropic's bound).
pub const MAX_LIMIT: usize = 1000;

/// What the query asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModelPage {
    /// At most this many models; all of them when not given.
    pub limit: Option<usize>,
    /// The models after this name.
    pub after_id: Option<String>,
    /// The models before this name.
    pub before_id: Option<String>,
}

impl ModelPage {
    /// The page a query string asks for. Other parameters are ignored, as the providers do.
    pub fn from_query(query: Option<&str>) -> Result<ModelPage, GatewayError> {
        let mut page = ModelPage::default();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(name, value)?;
            match name {
                "limit" => {
                    page.limit = Some(
                        value
                            .parse::<usize>()
                            .ok()
                            .filter(|n| (1..=MAX_LIMIT).contains(n))
                            .ok_or_else(|| {
                                GatewayError::invalid(
                                    "limit",
                                    format!(
                                        "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{value}`"
                                    ),
                                )
                            })?,
                    );
                }
                "after_id" => page.after_id = Some(value),
                "before_id" => page.before_id = Some(value),
                _ => {}
            }
        }
        if page.after_id.is_some() && page.before_id.is_some() {
            return Err(GatewayError::invalid(
                "before_id",
                "send `after_id` or `before_id`, not both: a page runs in one direction",
            ));
        }
        Ok(page)
    }

    /// This page of `names` (sorted) and whether more lie beyond it in the direction asked.
    pub fn slice<'a>(&self, names: &'a [String]) -> (&'a [String], bool) {
        let limit = self.limit.unwrap_or(usize::MAX);
        if let Some(before) = &self.before_id {
            let end = names.partition_point(|n| n < before);
            let start = end.saturating_sub(limit);
            (&names[start..end], start > 0)
        } else {
            let start = self
                .after_id
                .as_ref()
                .map_or(0, |after| names.partition_point(|n| n <= after));
            let rest = &names[start..];
            let take = rest.len().min(limit);
            (&rest[..take], rest.len() > take)
        }
    }
}

/// A query value, percent-decoded (`+` is a space, as in a form).
fn decode(name: &str, value: &str) -> Result<String, GatewayError> {
    let spaced = value.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| {
            GatewayError::invalid(
                name,
                format!("`{name}` is not UTF-8 text once percent-decoded"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn page(query: &str) -> ModelPage {
        ModelPage::from_query(Some(query)).unwrap()
    }

    #[test]
    fn no_query_is_the_whole_list() {
        let all = names(&["a", "b", "c"]);
        let (got, more) = ModelPage::from_query(None).unwrap().slice(&all);
        assert_eq!(got, &all[..]);
        assert!(!more);
        assert_eq!(page("foo=1&&"), ModelPage::default());
    }

    #[test]
    fn forward_pages_walk_the_list_once() {
        let all = names(&["a", "b", "c", "d", "e"]);
        let mut seen = Vec::new();
        let mut query = "limit=2".to_owned();
        loop {
            let (got, more) = page(&query).slice(&all);
            seen.extend_from_slice(got);
            if !more {
                break;
            }
            query = format!("limit=2&after_id={}", got.last().unwrap());
        }
        assert_eq!(seen, all);
        let (got, more) = page("limit=5").slice(&all);
        assert_eq!((got.len(), more), (5, false));
    }

    #[test]
    fn backward_pages_end_before_the_cursor() {
        let all = names(&["a", "b", "c", "d", "e"]);
        let (got, more) = page("before_id=d&limit=2").slice(&all);
        assert_eq!(got, &names(&["b", "c"])[..]);
        assert!(more);
        let (got, more) = page("before_id=b&limit=2").slice(&all);
        assert_eq!(got, &names(&["a"])[..]);
        assert!(!more);
    }

    #[test]
    fn a_cursor_that_left_the_list_still_places_the_page() {
        let all = names(&["alpha", "gamma", "omega"]);
        let (got, _) = page("after_id=beta").slice(&all);
        assert_eq!(got, &names(&["gamma", "omega"])[..]);
        let (got, more) = page("after_id=zzz").slice(&all);
        assert!(got.is_empty() && !more);
    }

    #[test]
    fn ids_are_percent_decoded() {
        assert_eq!(page("before_id").before_id.as_deref(), Some(""));
        let all = names(&["Qwen/Qwen2.5-7B", "Qwen/Qwen3", "a b"]);
        let (got, _) = page("after_id=Qwen%2FQwen2.5-7B").slice(&all);
        assert_eq!(got, &names(&["Qwen/Qwen3", "a b"])[..]);
        let (got, _) = page("before_id=a+b").slice(&all);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn bad_queries_say_what_to_send() {
        for bad in ["limit=0", "limit=1001", "limit=-1", "limit=ten", "limit="] {
            let err = ModelPage::from_query(Some(bad)).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("limit"), "{bad}");
            assert!(
                err.message.contains("from 1 to 1000"),
                "{bad}: {}",
                err.message
            );
        }
        let err = ModelPage::from_query(Some("after_id=a&before_id=b")).unwrap_err();
        assert!(err.message.contains("not both"));
        let err = ModelPage::from_query(Some("after_id=%FF")).unwrap_err();
        assert!(err.message.contains("UTF-8"));
    }
}
