//! Sigma's `condition:` grammar, into a small boolean expression over search identifiers.
//!
//! ```text
//! expr  := and ("or" and)*
//! and   := not ("and" not)*
//! not   := "not" not | atom
//! atom  := "(" expr ")" | ("1" | "any" | "all") "of" ("them" | PATTERN) | IDENTIFIER
//! ```
//! Precedence, loosest first: `or`, `and`, `not`, `x of`, parentheses (Sigma's). `them`
//! is every identifier not starting with `_`; a pattern's `*` matches any run. Nesting
//! (parentheses and `not`) is bounded, so hostile conditions fail cleanly.

use crate::json::FieldSource;

use super::matcher::Search;

/// Parentheses and `not`s nested deeper than this are refused.
pub const MAX_NESTING: usize = 64;

/// A compiled condition: indices into the rule's search identifiers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Search(usize),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    pub(crate) fn eval(&self, searches: &[Search], event: &dyn FieldSource) -> bool {
        match self {
            Expr::Search(i) => searches[*i].matches(event),
            Expr::And(items) => items.iter().all(|e| e.eval(searches, event)),
            Expr::Or(items) => items.iter().any(|e| e.eval(searches, event)),
            Expr::Not(e) => !e.eval(searches, event),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            c if is_word_char(c) => {
                let mut end = at;
                while let Some(&(i, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                out.push(Token::Word(text[at..end].to_owned()));
            }
            other => return Err(format!("unexpected `{other}` at character {}", at + 1)),
        }
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '?')
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    names: &'a [String],
    depth: usize,
}

/// Parses one condition over the search identifiers `names`.
pub(crate) fn parse(text: &str, names: &[String]) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser {
        tokens,
        at: 0,
        names,
        depth: 0,
    };
    let expr = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(expr),
        Some(t) => Err(format!("unexpected {} after a complete condition", show(t))),
    }
}

fn show(t: &Token) -> String {
    match t {
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::Word(w) => format!("`{w}`"),
    }
}

fn keyword(t: Option<&Token>, k: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(k))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("condition nested deeper than {MAX_NESTING} levels"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while keyword(self.peek(), "or") {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while keyword(self.peek(), "and") {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if keyword(self.peek(), "not") {
            self.at += 1;
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let Some(token) = self.peek().cloned() else {
            return Err("the condition ends where a search identifier was expected".into());
        };
        self.at += 1;
        let word = match token {
            Token::Open => {
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                return match self.peek() {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err("`(` without its `)`".into()),
                };
            }
            Token::Close => return Err("`)` without its `(`".into()),
            Token::Word(w) => w,
        };
        let lower = word.to_ascii_lowercase();
        if keyword(self.peek(), "of") {
            let all = match lower.as_str() {
                "all" => true,
                "1" | "any" => false,
                _ => {
                    return Err(format!(
                        "`{word} of`: only `1 of` and `all of` are supported"
                    ))
                }
            };
            self.at += 1;
            let Some(Token::Word(target)) = self.peek().cloned() else {
                return Err(format!(
                    "`{word} of` needs `them` or a search identifier pattern"
                ));
            };
            self.at += 1;
            let picked: Vec<Expr> = if target.eq_ignore_ascii_case("them") {
                (0..self.names.len())
                    .filter(|&i| !self.names[i].starts_with('_'))
                    .map(Expr::Search)
                    .collect()
            } else {
                (0..self.names.len())
                    .filter(|&i| name_glob(&target, &self.names[i]))
                    .map(Expr::Search)
                    .collect()
            };
            if picked.is_empty() {
                return Err(format!("`{word} of {target}` names no search identifier"));
            }
            return Ok(match (picked.len(), all) {
                (1, _) => picked.into_iter().next().unwrap(),
                (_, true) => Expr::And(picked),
                (_, false) => Expr::Or(picked),
            });
        }
        if matches!(lower.as_str(), "and" | "or" | "not" | "of" | "them") {
            return Err(format!("`{word}` where a search identifier was expected"));
        }
        match self.names.iter().position(|n| *n == word) {
            Some(i) => Ok(Expr::Search(i)),
            None => Err(format!("`{word}` is not a search identifier of this rule")),
        }
    }
}

/// `*` matches any run of characters in a search identifier pattern.
fn name_glob(pattern: &str, name: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('*').collect();
    if pieces.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_and_groups() {
        let n = names(&["a", "b", "c", "filter_1", "filter_2", "_hidden"]);
        assert_eq!(
            parse("a or b and not c", &n).unwrap(),
            Expr::Or(vec![
                Expr::Search(0),
                Expr::And(vec![Expr::Search(1), Expr::Not(Box::new(Expr::Search(2)))])
            ])
        );
        assert_eq!(
            parse("(a or b) and c", &n).unwrap(),
            Expr::And(vec![
                Expr::Or(vec![Expr::Search(0), Expr::Search(1)]),
                Expr::Search(2)
            ])
        );
        assert_eq!(
            parse("a and not 1 of filter_*", &n).unwrap(),
            Expr::And(vec![
                Expr::Search(0),
                Expr::Not(Box::new(Expr::Or(vec![Expr::Search(3), Expr::Search(4)])))
            ])
        );
        assert_eq!(
            parse("all of them", &n).unwrap(),
            Expr::And((0..5).map(Expr::Search).collect())
        );
        assert_eq!(parse("1 of _h*", &n).unwrap(), Expr::Search(5));
        assert_eq!(
            parse("ALL OF filter_*", &n).unwrap(),
            Expr::And(vec![Expr::Search(3), Expr::Search(4)])
        );
        assert!(name_glob("*l*_*", "filter_1") && !name_glob("x*", "filter_1"));
    }

    #[test]
    fn bad_conditions_are_errors_not_panics() {
        let n = names(&["a", "b"]);
        for (bad, why) in [
            ("", "empty"),
            ("a and", "ends"),
            ("a b", "unexpected `b`"),
            ("(a", "without its `)`"),
            ("a)", "unexpected `)`"),
            (")", "without its `(`"),
            ("c", "not a search identifier"),
            ("2 of a*", "only `1 of`"),
            ("1 of x*", "names no search identifier"),
            ("1 of", "needs `them`"),
            ("a | count() > 5", "unexpected `|`"),
            ("not", "ends"),
            ("and", "where a search identifier"),
        ] {
            let err = parse(bad, &n).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep, &n).unwrap_err().contains("nested deeper"));
        let nots = format!("{}a", "not ".repeat(10_000));
        assert!(parse(&nots, &n).unwrap_err().contains("nested deeper"));
        let fine = format!("{}a{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(parse(&fine, &n).unwrap(), Expr::Search(0));
        let long = vec!["a"; 50_000].join(" or ");
        assert!(matches!(parse(&long, &n).unwrap(), Expr::Or(v) if v.len() == 50_000));
    }
}
