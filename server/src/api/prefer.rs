//! The `Prefer` header: `return=representation`, `odata.maxpagesize=N`, `odata.track-changes`,
//! `odata.include-annotations="..."`, `odata.continue-on-error`.

/// What a request prefers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prefer {
    /// `return=representation`.
    pub return_representation: bool,
    /// `odata.maxpagesize=N`.
    pub max_page_size: Option<usize>,
    /// `odata.track-changes`.
    pub track_changes: bool,
    /// `odata.include-annotations="..."`, as written (without quotes).
    pub annotations: Option<String>,
    /// `odata.continue-on-error` (`$batch`).
    pub continue_on_error: bool,
}

impl Prefer {
    /// Parses every `Prefer` value (comma-separated, quotes respected).
    pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Prefer {
        let mut p = Prefer::default();
        for v in values {
            for item in split_outside_quotes(v) {
                let item = item.trim();
                let (k, val) = match item.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string()),
                    None => (item.to_ascii_lowercase(), String::new()),
                };
                match k.as_str() {
                    "return" => p.return_representation = val.eq_ignore_ascii_case("representation"),
                    "odata.maxpagesize" => p.max_page_size = val.parse().ok().filter(|n| *n > 0),
                    "odata.track-changes" => p.track_changes = true,
                    "odata.include-annotations" => p.annotations = Some(val),
                    "odata.continue-on-error" => p.continue_on_error = true,
                    _ => {}
                }
            }
        }
        p
    }

    /// Whether an annotation term (`OData.Community.Display.V1.FormattedValue`) is to be included.
    pub fn wants(&self, term: &str) -> bool {
        let Some(list) = &self.annotations else { return false };
        let mut wanted = false;
        for pat in list.split(',').map(str::trim) {
            let (neg, pat) = match pat.strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, pat),
            };
            let hit = pat == "*"
                || pat.eq_ignore_ascii_case(term)
                || pat.strip_suffix(".*").is_some_and(|prefix| {
                    term.len() > prefix.len() && term[..prefix.len()].eq_ignore_ascii_case(prefix)
                });
            if hit {
                if neg {
                    return false;
                }
                wanted = true;
            }
        }
        wanted
    }

    /// Whether any annotation is wanted.
    pub fn any_annotations(&self) -> bool {
        self.annotations.is_some()
    }
}

fn split_outside_quotes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Annotation terms.
pub const FORMATTED: &str = "OData.Community.Display.V1.FormattedValue";
/// The lookup's table.
pub const LOOKUP_LOGICAL_NAME: &str = "Microsoft.Dynamics.CRM.lookuplogicalname";
/// The lookup's navigation property.
pub const ASSOCIATED_NAV: &str = "Microsoft.Dynamics.CRM.associatednavigationproperty";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_lists() {
        let p = Prefer::parse(
            ["odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*\", odata.maxpagesize=10", "return=representation"]
                .into_iter(),
        );
        assert_eq!(p.max_page_size, Some(10));
        assert!(p.return_representation);
        assert!(p.wants(FORMATTED) && p.wants(LOOKUP_LOGICAL_NAME));
        assert!(!Prefer::parse(
            ["odata.include-annotations=\"*,-Microsoft.Dynamics.CRM.lookuplogicalname\""].into_iter()
        )
        .wants(LOOKUP_LOGICAL_NAME));
    }
}
