//! The reading of a TOML file: every problem recorded with its file, line, column and
//! dotted field, and helpers that read a table's fields and note the ones never asked
//! for.

use super::ConfigError;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The reading of one file: its text, and every problem found so far.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) errors: Vec<ConfigError>,
    /// The key file named, and where, once read (even when other fields have errors).
    pub(super) key_file: Option<(PathBuf, Range<usize>)>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str) -> Self {
        Ctx {
            file,
            text,
            errors: Vec::new(),
            key_file: None,
        }
    }

    /// Records a problem at `span` (0..0: not at a place in the file).
    pub(super) fn error(&mut self, span: Range<usize>, field: &str, message: String) {
        let (line, column) = if span == (0..0) && field != "(syntax)" {
            (0, 0)
        } else {
            line_col(self.text, span.start)
        };
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            message,
        });
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// A TOML value with its place in the file.
pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// A table being read: remembers which keys were used so unknown ones can be reported.
pub(super) struct Section<'t, 'i> {
    table: &'t DeTable<'i>,
    path: String,
    span: Range<usize>,
    used: Vec<String>,
}

impl<'t, 'i> Section<'t, 'i> {
    pub(super) fn new(table: &'t DeTable<'i>, path: &str, span: Range<usize>) -> Self {
        Section {
            table,
            path: path.to_string(),
            span,
            used: Vec::new(),
        }
    }

    /// The dotted path of `key` in this table.
    pub(super) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    /// True when the table has `key` (without marking it used).
    pub(super) fn has(&self, key: &str) -> bool {
        self.table.iter().any(|(k, _)| k.get_ref().as_ref() == key)
    }

    /// The value of `key`, marked used.
    pub(super) fn get(&mut self, key: &str) -> Option<&'t Value<'i>> {
        self.used.push(key.to_string());
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    /// The value of `key`, or an error naming `what` was expected.
    pub(super) fn required(
        &mut self,
        cx: &mut Ctx,
        key: &str,
        what: &str,
    ) -> Option<&'t Value<'i>> {
        let v = self.get(key);
        if v.is_none() {
            let field = self.field(key);
            cx.error(
                self.span.clone(),
                &field,
                format!("missing; expected {what}"),
            );
        }
        v
    }

    /// The table under `key`, if it is one.
    pub(super) fn table(
        &mut self,
        cx: &mut Ctx,
        key: &str,
    ) -> Option<(&'t DeTable<'i>, Range<usize>)> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span())),
            other => {
                let field = self.field(key);
                cx.error(
                    v.span(),
                    &field,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// The string under `key`, if it is one.
    pub(super) fn str(
        &mut self,
        cx: &mut Ctx,
        key: &str,
        what: &str,
    ) -> Option<(&'t str, Range<usize>)> {
        let v = self.get(key)?;
        as_str(cx, v, &self.field(key), what)
    }

    /// The string under `key` parsed as `T`; its error names what is allowed.
    pub(super) fn parsed<T: FromStr<Err = &'static str>>(
        &mut self,
        cx: &mut Ctx,
        key: &str,
    ) -> Option<T> {
        let (s, span) = self.str(cx, key, "a string")?;
        match s.parse() {
            Ok(v) => Some(v),
            Err(allowed) => {
                cx.error(
                    span,
                    &self.field(key),
                    format!("`{s}` is not allowed; expected {allowed}"),
                );
                None
            }
        }
    }

    /// The integer under `key`, in `lo..=hi`.
    pub(super) fn int(&mut self, cx: &mut Ctx, key: &str, lo: i64, hi: i64) -> Option<i64> {
        let v = self.get(key)?;
        as_int(cx, v, &self.field(key), lo, hi)
    }

    /// Reports every key that was never asked for.
    pub(super) fn finish(self, cx: &mut Ctx, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            let name = k.get_ref().as_ref();
            if !self.used.iter().any(|u| u == name) {
                let field = self.field(name);
                let where_ = if self.path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in [{}]", self.path)
                };
                cx.error(
                    k.span(),
                    &field,
                    format!("unknown field {where_}; allowed: {}", allowed.join(", ")),
                );
            }
        }
    }
}

/// `v` as a string, or an error naming `what` was expected.
pub(super) fn as_str<'t>(
    cx: &mut Ctx,
    v: &'t Value<'_>,
    field: &str,
    what: &str,
) -> Option<(&'t str, Range<usize>)> {
    match v.get_ref() {
        DeValue::String(s) => Some((s.as_ref(), v.span())),
        other => {
            cx.error(
                v.span(),
                field,
                format!(
                    "expected {what}, found {} {}",
                    other.type_str(),
                    show(other)
                ),
            );
            None
        }
    }
}

/// `v` as an integer in `lo..=hi`.
pub(super) fn as_int(cx: &mut Ctx, v: &Value<'_>, field: &str, lo: i64, hi: i64) -> Option<i64> {
    let n = match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    match n {
        Some(n) if (lo..=hi).contains(&n) => Some(n),
        Some(n) => {
            cx.error(
                v.span(),
                field,
                format!("{n} is out of range; allowed {lo}..={hi}"),
            );
            None
        }
        None => {
            cx.error(
                v.span(),
                field,
                format!(
                    "expected an integer in {lo}..={hi}, found {} {}",
                    v.get_ref().type_str(),
                    show(v.get_ref())
                ),
            );
            None
        }
    }
}

/// A scalar as the file spells it, for error messages (empty for tables and arrays).
pub(super) fn show(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("`{s}`"),
        DeValue::Integer(i) => format!("`{}`", i.as_str()),
        DeValue::Float(x) => format!("`{}`", x.as_str()),
        DeValue::Boolean(b) => format!("`{b}`"),
        _ => String::new(),
    }
}
