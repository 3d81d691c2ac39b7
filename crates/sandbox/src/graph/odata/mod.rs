//! OData query options as far as the emulated endpoints need them:
//! `$filter` (eq, ne, gt, ge, lt, le, and, or, not, parentheses,
//! `startswith`), `$select`, `$expand`, `$top`, `$skiptoken`, `$count`,
//! `$orderby`. Each endpoint declares what it supports; anything else gets the
//! 400 Graph gives, never a silent ignore.

mod filter;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};

use filter::compare;
pub use filter::{Filter, Literal, Op, lookup};

use super::error::{GraphError, GraphResult};

/// Which options an endpoint accepts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supported {
    pub filter: bool,
    pub select: bool,
    pub expand: &'static [&'static str],
    pub top: bool,
    pub orderby: bool,
    pub count: bool,
}

impl Supported {
    pub const NONE: Self = Self {
        filter: false,
        select: false,
        expand: &[],
        top: false,
        orderby: false,
        count: false,
    };
    pub const ENTITY: Self = Self {
        select: true,
        ..Self::NONE
    };
    pub const LIST: Self = Self {
        filter: true,
        select: true,
        top: true,
        count: true,
        ..Self::NONE
    };

    pub const fn with_expand(mut self, expand: &'static [&'static str]) -> Self {
        self.expand = expand;
        self
    }

    pub const fn with_orderby(mut self) -> Self {
        self.orderby = true;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct ODataQuery {
    pub filter: Option<Filter>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<Expand>,
    pub top: Option<usize>,
    pub skip: usize,
    pub count: bool,
    pub orderby: Option<(String, bool)>,
    /// The query string without `$skiptoken`, to build `@odata.nextLink`.
    pub rest: Vec<(String, String)>,
}

/// One `$expand` item: `assignment($expand=target)` → name `assignment`,
/// options `$expand=target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    pub name: String,
    pub options: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_TOP: usize = 999;

impl ODataQuery {
    pub fn parse(raw: Option<&str>, supported: Supported) -> GraphResult<Self> {
        let mut query = Self::default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| GraphError::bad_request("The query string is malformed."))?;
        for (key, value) in pairs {
            let option = key.trim_start_matches('$').to_ascii_lowercase();
            let dollar = key.starts_with('$');
            if key != "$skiptoken" {
                query.rest.push((key.clone(), value.clone()));
            }
            if !dollar {
                continue;
            }
            match option.as_str() {
                "filter" if supported.filter => query.filter = Some(Filter::parse(&value)?),
                "select" if supported.select => {
                    query.select = Some(value.split(',').map(|s| s.trim().to_owned()).collect())
                }
                "expand" if !supported.expand.is_empty() => {
                    query.expand = parse_expand(&value)?;
                    for e in &query.expand {
                        if !supported
                            .expand
                            .iter()
                            .any(|s| s.eq_ignore_ascii_case(&e.name))
                        {
                            return Err(GraphError::bad_request(format!(
                                "Parsing OData Select and Expand failed: Could not find a property named '{}' that can be expanded.",
                                e.name
                            )));
                        }
                    }
                }
                "top" if supported.top => {
                    let top: usize = value.parse().map_err(|_| {
                        GraphError::bad_request(format!(
                            "Invalid value '{value}' for $top query option found."
                        ))
                    })?;
                    if top == 0 || top > MAX_TOP {
                        return Err(GraphError::bad_request(format!(
                            "Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
                        )));
                    }
                    query.top = Some(top);
                }
                "skiptoken" => {
                    query.skip = value
                        .parse()
                        .map_err(|_| GraphError::bad_request("Invalid $skiptoken."))?;
                }
                "count" if supported.count => query.count = value.eq_ignore_ascii_case("true"),
                "orderby" if supported.orderby => {
                    let mut parts = value.split_whitespace();
                    let field = parts.next().unwrap_or_default().to_owned();
                    let desc = matches!(parts.next(), Some(d) if d.eq_ignore_ascii_case("desc"));
                    query.orderby = Some((field, desc));
                }
                _ => {
                    return Err(GraphError::bad_request(format!(
                        "Query option '{key}' is not supported for this request."
                    )));
                }
            }
        }
        Ok(query)
    }

    pub fn expands(&self, name: &str) -> bool {
        self.expand
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// Keeps only `$select`ed properties (plus `id` and `@odata.type`).
    pub fn project(&self, mut item: Value) -> Value {
        let Some(select) = &self.select else {
            return item;
        };
        if let Value::Object(map) = &mut item {
            let expanded: Vec<String> = self.expand.iter().map(|e| e.name.clone()).collect();
            map.retain(|k, _| {
                k == "id"
                    || k.starts_with("@odata")
                    || select.iter().any(|s| s.eq_ignore_ascii_case(k))
                    || expanded.iter().any(|e| e.eq_ignore_ascii_case(k))
            });
        }
        item
    }

    /// Filters, orders, pages and projects `items` into a collection body.
    /// `self_url` is the absolute request URL without its query.
    pub fn collection(&self, items: Vec<Value>, self_url: &str) -> Value {
        let mut items: Vec<Value> = match &self.filter {
            Some(f) => items.into_iter().filter(|i| f.matches(i)).collect(),
            None => items,
        };
        if let Some((field, desc)) = &self.orderby {
            items.sort_by(|a, b| {
                let ord = compare(lookup(a, field), lookup(b, field));
                if *desc { ord.reverse() } else { ord }
            });
        }
        let total = items.len();
        let size = self.top.unwrap_or(DEFAULT_PAGE_SIZE);
        let page: Vec<Value> = items
            .into_iter()
            .skip(self.skip)
            .take(size)
            .map(|i| self.project(i))
            .collect();
        let mut body = Map::new();
        if self.count {
            body.insert("@odata.count".into(), json!(total));
        }
        body.insert("value".into(), Value::Array(page));
        if self.skip + size < total {
            let mut params = self.rest.clone();
            params.push(("$skiptoken".into(), (self.skip + size).to_string()));
            let qs = serde_urlencoded::to_string(&params).unwrap_or_default();
            body.insert("@odata.nextLink".into(), json!(format!("{self_url}?{qs}")));
        }
        Value::Object(body)
    }
}

fn parse_expand(raw: &str) -> GraphResult<Vec<Expand>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    let bytes: Vec<char> = raw.chars().collect();
    let mut push = |segment: String| -> GraphResult<()> {
        let segment = segment.trim().to_owned();
        if segment.is_empty() {
            return Err(GraphError::bad_request("Invalid $expand: empty item."));
        }
        match segment.find('(') {
            Some(i) if segment.ends_with(')') => out.push(Expand {
                name: segment[..i].trim().to_owned(),
                options: Some(segment[i + 1..segment.len() - 1].to_owned()),
            }),
            Some(_) => {
                return Err(GraphError::bad_request(
                    "Invalid $expand: unbalanced parentheses.",
                ));
            }
            None => out.push(Expand {
                name: segment,
                options: None,
            }),
        }
        Ok(())
    };
    for (i, c) in bytes.iter().enumerate() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    GraphError::bad_request("Invalid $expand: unbalanced parentheses.")
                })?
            }
            ',' if depth == 0 => {
                push(bytes[start..i].iter().collect())?;
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(GraphError::bad_request(
            "Invalid $expand: unbalanced parentheses.",
        ));
    }
    push(bytes[start..].iter().collect())?;
    Ok(out)
}
