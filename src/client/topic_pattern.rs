//! Topic patterns: what a consumer subscribes with (`kfk console-consumer --include`) and
//! what `kfk topics --topic` matches. A small anchored regular expression, enough for topic
//! lists such as `orders.*|payments`.

/// A small anchored regular expression: `.`, `*`, `+`, `?`, `|`,
/// character classes `[...]`, and literal characters (escape with `\`).
#[derive(Debug, Clone)]
pub struct TopicPattern {
    alternatives: Vec<Vec<(Atom, Repeat)>>,
}

#[derive(Debug, Clone)]
enum Atom {
    Any,
    Char(char),
    Class(Vec<(char, char)>, bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Repeat {
    One,
    Star,
    Plus,
    Optional,
}

impl TopicPattern {
    pub fn new(re: &str) -> Result<TopicPattern, String> {
        let mut alternatives = Vec::new();
        for alt in re.split('|') {
            let mut seq: Vec<(Atom, Repeat)> = Vec::new();
            let mut chars = alt.chars().peekable();
            while let Some(c) = chars.next() {
                let atom = match c {
                    '.' => Atom::Any,
                    '\\' => Atom::Char(chars.next().ok_or("trailing backslash")?),
                    '[' => {
                        let negate = chars.peek() == Some(&'^');
                        if negate {
                            chars.next();
                        }
                        let mut ranges = Vec::new();
                        loop {
                            let c = chars.next().ok_or("unclosed [")?;
                            if c == ']' {
                                break;
                            }
                            if chars.peek() == Some(&'-') {
                                chars.next();
                                let hi = chars.next().ok_or("unclosed [")?;
                                ranges.push((c, hi));
                            } else {
                                ranges.push((c, c));
                            }
                        }
                        Atom::Class(ranges, negate)
                    }
                    '*' | '+' | '?' => return Err(format!("nothing to repeat before {c}")),
                    '(' | ')' | '{' | '}' | '^' | '$' => {
                        return Err(format!("{c} is not supported in topic patterns"))
                    }
                    c => Atom::Char(c),
                };
                let repeat = match chars.peek() {
                    Some('*') => Repeat::Star,
                    Some('+') => Repeat::Plus,
                    Some('?') => Repeat::Optional,
                    _ => Repeat::One,
                };
                if repeat != Repeat::One {
                    chars.next();
                }
                seq.push((atom, repeat));
            }
            alternatives.push(seq);
        }
        Ok(TopicPattern { alternatives })
    }

    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        self.alternatives.iter().any(|seq| match_seq(seq, &chars))
    }
}

fn atom_matches(a: &Atom, c: char) -> bool {
    match a {
        Atom::Any => true,
        Atom::Char(x) => *x == c,
        Atom::Class(ranges, negate) => {
            ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negate
        }
    }
}

fn match_seq(seq: &[(Atom, Repeat)], text: &[char]) -> bool {
    let Some(((atom, repeat), rest)) = seq.split_first() else {
        return text.is_empty();
    };
    match repeat {
        Repeat::One => {
            text.first().is_some_and(|c| atom_matches(atom, *c)) && match_seq(rest, &text[1..])
        }
        Repeat::Optional => {
            match_seq(rest, text)
                || (text.first().is_some_and(|c| atom_matches(atom, *c))
                    && match_seq(rest, &text[1..]))
        }
        Repeat::Star | Repeat::Plus => {
            let min = usize::from(*repeat == Repeat::Plus);
            let run = text.iter().take_while(|c| atom_matches(atom, **c)).count();
            (min..=run).rev().any(|n| match_seq(rest, &text[n..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_patterns_are_anchored_regular_expressions() {
        let p = TopicPattern::new("orders.*|pay[a-z]+").unwrap();
        assert!(p.matches("orders") && p.matches("orders-eu") && p.matches("payments"));
        assert!(!p.matches("my-orders") && !p.matches("pay") && !p.matches("pay1"));
        assert!(TopicPattern::new("*x").is_err());
    }
}
