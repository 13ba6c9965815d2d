//! Extended XYZ, as ASE reads and writes it.
//!
//! A frame is an atom-count line, a comment line of `key=value` pairs and one line per atom:
//!
//! ```text
//! 2
//! Lattice="5.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 5.0" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.5 pbc="T T T"
//! H 0.0 0.0 0.0 0.1 0.0 0.0
//! H 0.74 0.0 0.0 -0.1 0.0 0.0
//! ```
//!
//! Recognised keys: `Lattice` (9 numbers, rows = cell vectors, Å) -> [`Frame::cell`], `pbc`
//! (`"T T F"`; default `T T T` with a `Lattice`, else `F F F`) -> [`Frame::pbc`], `Properties`
//! (the per-atom column spec, default `species:S:1:pos:R:3`), `energy` (eV) ->
//! [`Frame::energy`], `stress` (9 numbers, or 6 in Voigt order xx yy zz yz xz xy, eV/Å³) ->
//! [`Frame::stress`]. All other keys go verbatim into [`Frame::info`] (a bare key means `T`).
//! Per-atom columns `species` (symbol or atomic number; `Z` is used when there is no
//! `species`), `pos` and `forces` (alias `force`) are read; other columns are skipped.

use std::path::Path;

use crate::elements;
use crate::error::{Error, Result};
use crate::io::files::{read_text, write_atomic};
use crate::structure::Frame;

/// Keys the writer produces from [`Frame`] fields; entries of [`Frame::info`] with these names
/// are not written.
const RESERVED: [&str; 5] = ["Lattice", "Properties", "pbc", "energy", "stress"];

/// Reads every frame of the extended-XYZ file at `path` (gunzipped if the name ends in `.gz`).
pub fn read_extxyz(path: &Path) -> Result<Vec<Frame>> {
    let text = read_text(path)?;
    parse_extxyz(&text, path)
}

/// Parses extended-XYZ `text`; `path` is only used in error messages, which name the 1-based
/// line of the problem. Blank lines between frames are ignored.
pub fn parse_extxyz(text: &str, path: &Path) -> Result<Vec<Frame>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut frames = Vec::new();
    let mut k = 0;
    while k < lines.len() {
        if lines[k].trim().is_empty() {
            k += 1;
            continue;
        }
        let (frame, next) = parse_frame(&lines, k, path)?;
        frames.push(frame);
        k = next;
    }
    Ok(frames)
}

/// Writes `frames` to `path` atomically (gzipped if the name ends in `.gz`), in the layout of
/// [`format_extxyz`]. Fails without touching the file when a frame's arrays have inconsistent
/// lengths or it is periodic without a cell.
pub fn write_extxyz(path: &Path, frames: &[Frame]) -> Result<()> {
    for (f, frame) in frames.iter().enumerate() {
        let n = frame.numbers.len();
        if frame.positions.len() != n {
            return Err(Error::invalid(format!(
                "frame {f}: {} positions for {n} atoms",
                frame.positions.len()
            )));
        }
        if let Some(forces) = &frame.forces {
            if forces.len() != n {
                return Err(Error::invalid(format!(
                    "frame {f}: {} forces for {n} atoms",
                    forces.len()
                )));
            }
        }
        if frame.cell.is_none() && frame.pbc.iter().any(|&p| p) {
            return Err(Error::invalid(format!(
                "frame {f}: periodic boundary conditions without a cell"
            )));
        }
    }
    write_atomic(path, format_extxyz(frames).as_bytes())
}

/// Formats `frames` as ASE writes extended XYZ:
/// `[Lattice="..."] Properties=species:S:1:pos:R:3[:forces:R:3] [energy=..] [stress="..."]
/// <info> pbc="..."`, then one line per atom. Positions and forces carry 10 decimals; the
/// cell, energy and stress are written with full (round-trip) precision; the stress as 9
/// numbers. Info values are quoted when needed (line breaks become spaces); info keys that
/// clash with the reserved keys above are skipped. Elements without a known symbol are
/// written as atomic numbers. Atoms are written up to the shortest of `numbers`,
/// `positions` (and `forces`); [`write_extxyz`] rejects such inconsistent frames.
pub fn format_extxyz(frames: &[Frame]) -> String {
    let mut out = String::new();
    for frame in frames {
        let forces = frame.forces.as_deref();
        let mut n = frame.numbers.len().min(frame.positions.len());
        if let Some(f) = forces {
            n = n.min(f.len());
        }
        out.push_str(&format!("{n}\n"));

        let mut fields: Vec<String> = Vec::new();
        if let Some(cell) = &frame.cell {
            let v: Vec<String> = cell.iter().flatten().map(|&x| fmt_full(x)).collect();
            fields.push(format!("Lattice=\"{}\"", v.join(" ")));
        }
        let mut props = String::from("Properties=species:S:1:pos:R:3");
        if forces.is_some() {
            props.push_str(":forces:R:3");
        }
        fields.push(props);
        if let Some(e) = frame.energy {
            fields.push(format!("energy={}", fmt_full(e)));
        }
        if let Some(s) = &frame.stress {
            // Column-major (Fortran) order, as ASE flattens 3x3 info matrices.
            let v: Vec<String> = (0..9).map(|k| fmt_full(s[k % 3][k / 3])).collect();
            fields.push(format!("stress=\"{}\"", v.join(" ")));
        }
        for (key, value) in &frame.info {
            if RESERVED.contains(&key.as_str()) {
                continue;
            }
            fields.push(format!("{}={}", escape(key), escape(value)));
        }
        let tf = |p: bool| if p { "T" } else { "F" };
        fields.push(format!(
            "pbc=\"{} {} {}\"",
            tf(frame.pbc[0]),
            tf(frame.pbc[1]),
            tf(frame.pbc[2])
        ));
        out.push_str(&fields.join(" "));
        out.push('\n');

        for i in 0..n {
            let z = frame.numbers[i];
            let species = match elements::symbol(z) {
                Ok(s) => s.to_string(),
                Err(_) => z.to_string(),
            };
            out.push_str(&format!("{species:<2}"));
            for x in frame.positions[i] {
                out.push_str(&format!(" {x:16.10}"));
            }
            if let Some(f) = forces {
                for x in f[i] {
                    out.push_str(&format!(" {x:16.10}"));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// `x` with the shortest representation that parses back to the same `f64`, written like
/// Python's `str(float)` where it matters for readability (`5.0`, not `5`).
fn fmt_full(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        format!("{x}")
    } else if x == 0.0 || (1e-4..1e15).contains(&a) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        format!("{x:e}")
    }
}

/// Quotes `s` for the comment line when it is empty or contains whitespace or any of the
/// characters the parser treats specially; line breaks become spaces.
fn escape(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let special = |c: char| c.is_whitespace() || "\"'{}[]=\\".contains(c);
    if !s.is_empty() && !s.chars().any(special) {
        return s;
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Splits an extended-XYZ comment line into `(key, value)` pairs, as ASE does: pairs are
/// separated by whitespace, `=` may be surrounded by spaces, values may be delimited by `"`,
/// `'`, `[...]` or `{...}` (the delimiters are removed), a backslash takes the next character
/// literally, and a key without `=` has no value. The error is a message without location.
fn tokenize(line: &str) -> std::result::Result<Vec<(String, Option<String>)>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut pos = 0;
    let mut pairs = Vec::new();
    let skip_ws = |pos: &mut usize| {
        while *pos < chars.len() && chars[*pos].is_whitespace() {
            *pos += 1;
        }
    };
    loop {
        skip_ws(&mut pos);
        if pos >= chars.len() {
            break;
        }
        if chars[pos] == '=' {
            return Err(format!("'=' without a key at column {}", pos + 1));
        }
        let key = read_word(&chars, &mut pos, true)?;
        let mut look = pos;
        skip_ws(&mut look);
        if look < chars.len() && chars[look] == '=' {
            pos = look + 1;
            skip_ws(&mut pos);
            let value = read_word(&chars, &mut pos, false)?;
            pairs.push((key, Some(value)));
        } else {
            pairs.push((key, None));
        }
    }
    Ok(pairs)
}

/// Reads one key or value starting at `*pos`, up to unquoted whitespace (or `=` for a key).
fn read_word(chars: &[char], pos: &mut usize, is_key: bool) -> std::result::Result<String, String> {
    let mut word = String::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        if c.is_whitespace() || (is_key && c == '=') {
            break;
        }
        *pos += 1;
        match c {
            '\\' => {
                if let Some(&next) = chars.get(*pos) {
                    word.push(next);
                    *pos += 1;
                }
            }
            '"' | '\'' | '[' | '{' => {
                let close = match c {
                    '[' => ']',
                    '{' => '}',
                    q => q,
                };
                let open_at = *pos;
                loop {
                    match chars.get(*pos) {
                        None => {
                            return Err(format!(
                            "unbalanced quote: {c} at column {open_at} is never closed by {close}"
                        ))
                        }
                        Some('\\') => {
                            if let Some(&next) = chars.get(*pos + 1) {
                                word.push(next);
                            }
                            *pos += 2;
                        }
                        Some(&d) if d == close => {
                            *pos += 1;
                            break;
                        }
                        Some(&d) => {
                            word.push(d);
                            *pos += 1;
                        }
                    }
                }
            }
            _ => word.push(c),
        }
    }
    Ok(word)
}

/// Splits a numeric array value on whitespace and commas, as ASE does.
fn split_values(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses `value` as `n` floats (any count when `n` is empty) for key `key`.
fn parse_floats(value: &str, key: &str, counts: &[usize]) -> std::result::Result<Vec<f64>, String> {
    let parts = split_values(value);
    if !counts.contains(&parts.len()) {
        let want: Vec<String> = counts.iter().map(|c| c.to_string()).collect();
        return Err(format!(
            "{key} needs {} numbers, found {} in '{value}'",
            want.join(" or "),
            parts.len()
        ));
    }
    parts
        .iter()
        .map(|p| {
            p.parse::<f64>()
                .map_err(|_| format!("non-numeric value '{p}' in {key}"))
        })
        .collect()
}

/// The columns of a `Properties` spec that Concord reads.
struct Columns {
    /// Total number of per-atom columns.
    total: usize,
    /// Column of the species (symbol or atomic number).
    species: Option<usize>,
    /// Column of `Z` (atomic numbers), used when there is no `species`.
    z: Option<usize>,
    /// First of the three position columns.
    pos: usize,
    /// First of the three force columns.
    forces: Option<usize>,
}

/// Parses a `name:type:count:...` column spec.
fn parse_properties(spec: &str) -> std::result::Result<Columns, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return Err(format!(
            "Properties '{spec}' is not a list of name:type:count triples"
        ));
    }
    let (mut total, mut species, mut z, mut pos, mut forces) = (0, None, None, None, None);
    for t in parts.chunks(3) {
        let (name, ty, count) = (t[0], t[1], t[2]);
        if !["R", "I", "S", "L"].contains(&ty) {
            return Err(format!(
                "Properties column '{name}' has unknown type '{ty}' (expected R, I, S or L)"
            ));
        }
        let count: usize = match count.parse() {
            Ok(c) if c > 0 => c,
            _ => {
                return Err(format!(
                    "Properties column '{name}' has invalid count '{count}'"
                ))
            }
        };
        let want = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "Properties column '{name}' must be {what}, found {ty}:{count}"
                ))
            }
        };
        match name {
            "species" => {
                want(count == 1 && (ty == "S" || ty == "I"), "S:1")?;
                species = Some(total);
            }
            "Z" => {
                want(count == 1 && ty == "I", "I:1")?;
                z = Some(total);
            }
            "pos" => {
                want(count == 3 && ty == "R", "R:3")?;
                pos = Some(total);
            }
            "forces" | "force" => {
                want(count == 3 && ty == "R", "R:3")?;
                forces = Some(total);
            }
            _ => {}
        }
        total += count;
    }
    if species.is_none() && z.is_none() {
        return Err(format!("Properties '{spec}' has no species column"));
    }
    let pos = pos.ok_or_else(|| format!("Properties '{spec}' has no pos column"))?;
    Ok(Columns {
        total,
        species,
        z,
        pos,
        forces,
    })
}

/// Atomic number of a species token: a symbol (capitalised as ASE does: "CL" -> "Cl") or an
/// atomic number.
fn parse_species(token: &str) -> std::result::Result<u8, String> {
    if token.bytes().all(|b| b.is_ascii_digit()) {
        return match token.parse::<u8>() {
            Ok(z) if (1..=118).contains(&z) => Ok(z),
            _ => Err(format!("unknown element: atomic number {token}")),
        };
    }
    let mut chars = token.chars();
    let symbol: String = match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(|c| c.to_lowercase()))
            .collect(),
        None => String::new(),
    };
    elements::atomic_number(&symbol).map_err(|_| format!("unknown element '{token}'"))
}

/// Parses the frame whose atom-count line is `lines[start]`; returns it and the index of the
/// line after it.
fn parse_frame(lines: &[&str], start: usize, path: &Path) -> Result<(Frame, usize)> {
    let err = |idx: usize, msg: String| Error::parse(path, idx + 1, msg);
    let count_text = lines[start].trim();
    let n: usize = count_text.parse().map_err(|_| {
        err(
            start,
            format!("expected the number of atoms (a non-negative integer), found '{count_text}'"),
        )
    })?;
    let available = lines.len().saturating_sub(start + 2);
    if lines.len() < start + 2 || available < n {
        let found = if lines.len() < start + 2 {
            "no comment line".to_string()
        } else {
            format!("only {available} atom lines")
        };
        return Err(err(
            start,
            format!("truncated frame: {n} atoms declared here but the file ends after {found}"),
        ));
    }

    let c = start + 1;
    let pairs = tokenize(lines[c]).map_err(|m| err(c, m))?;
    let mut frame = Frame::default();
    let mut lattice: Option<[[f64; 3]; 3]> = None;
    let mut pbc: Option<[bool; 3]> = None;
    let mut properties = String::from("species:S:1:pos:R:3");
    for (key, value) in pairs {
        let value_str = value.clone().unwrap_or_else(|| "T".to_string());
        match key.as_str() {
            "Lattice" => {
                let v = parse_floats(&value_str, "Lattice", &[9]).map_err(|m| err(c, m))?;
                lattice = Some([[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]]);
            }
            "pbc" => {
                let parts = split_values(&value_str);
                let flags: Option<Vec<bool>> = parts
                    .iter()
                    .map(|p| match *p {
                        "T" | "True" | "true" => Some(true),
                        "F" | "False" | "false" => Some(false),
                        _ => None,
                    })
                    .collect();
                match flags {
                    Some(f) if f.len() == 3 => pbc = Some([f[0], f[1], f[2]]),
                    _ => {
                        return Err(err(
                            c,
                            format!("pbc must be three of T/F, found '{value_str}'"),
                        ))
                    }
                }
            }
            "Properties" => properties = value_str,
            "energy" => {
                let v = parse_floats(&value_str, "energy", &[1]).map_err(|m| err(c, m))?;
                frame.energy = Some(v[0]);
            }
            "stress" => {
                let v = parse_floats(&value_str, "stress", &[9, 6]).map_err(|m| err(c, m))?;
                frame.stress = Some(if v.len() == 9 {
                    // Column-major (Fortran) order, as ASE reads 3x3 info matrices.
                    [[v[0], v[3], v[6]], [v[1], v[4], v[7]], [v[2], v[5], v[8]]]
                } else {
                    // Voigt: xx yy zz yz xz xy.
                    [[v[0], v[5], v[4]], [v[5], v[1], v[3]], [v[4], v[3], v[2]]]
                });
            }
            _ => {
                frame.info.insert(key, value_str);
            }
        }
    }
    frame.pbc = pbc.unwrap_or(if lattice.is_some() {
        [true; 3]
    } else {
        [false; 3]
    });
    frame.cell = lattice;
    if frame.cell.is_none() && frame.pbc.iter().any(|&p| p) {
        return Err(err(
            c,
            "pbc has a periodic direction but there is no Lattice".into(),
        ));
    }
    let cols = parse_properties(&properties).map_err(|m| err(c, m))?;

    frame.numbers.reserve(n);
    frame.positions.reserve(n);
    let mut forces = cols.forces.map(|_| Vec::with_capacity(n));
    for a in 0..n {
        let idx = start + 2 + a;
        let tokens: Vec<&str> = lines[idx].split_whitespace().collect();
        if tokens.len() != cols.total {
            return Err(err(
                idx,
                format!(
                    "expected {} columns (Properties={properties}), found {}",
                    cols.total,
                    tokens.len()
                ),
            ));
        }
        let species_col = cols.species.or(cols.z).unwrap_or(0);
        frame
            .numbers
            .push(parse_species(tokens[species_col]).map_err(|m| err(idx, m))?);
        let vec3 = |first: usize, what: &str| -> Result<[f64; 3]> {
            let mut v = [0.0; 3];
            for (d, x) in v.iter_mut().enumerate() {
                let t = tokens[first + d];
                *x = t
                    .parse()
                    .map_err(|_| err(idx, format!("non-numeric value '{t}' in column {what}")))?;
            }
            Ok(v)
        };
        frame.positions.push(vec3(cols.pos, "pos")?);
        if let (Some(f), Some(col)) = (forces.as_mut(), cols.forces) {
            f.push(vec3(col, "forces")?);
        }
    }
    frame.forces = forces;
    Ok((frame, start + 2 + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_follows_ase() {
        let t = tokenize(r#"a=1 b = "x y" flag c='q' d=[1, 2] e="say \"hi\"" f=x=y"#).unwrap();
        let got: Vec<(&str, Option<&str>)> =
            t.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("a", Some("1")),
                ("b", Some("x y")),
                ("flag", None),
                ("c", Some("q")),
                ("d", Some("1, 2")),
                ("e", Some("say \"hi\"")),
                ("f", Some("x=y")),
            ]
        );
        assert!(tokenize("a=\"open").unwrap_err().contains("unbalanced"));
        assert!(tokenize("").unwrap().is_empty());
    }

    #[test]
    fn escape_round_trips_through_tokenizer() {
        for v in [
            "plain",
            "",
            "two words",
            "q\"uote",
            "back\\slash",
            "a=b",
            "[x]",
            "{j}",
        ] {
            let line = format!("k={}", escape(v));
            let t = tokenize(&line).unwrap();
            assert_eq!(t, vec![("k".to_string(), Some(v.to_string()))], "{line}");
        }
    }

    #[test]
    fn full_precision_floats() {
        for x in [
            0.1,
            -1.5,
            1e-20,
            6.02e23,
            -0.0,
            123456.789,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(fmt_full(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(fmt_full(5.0), "5.0");
        assert_eq!(fmt_full(-0.0), "-0.0");
    }

    #[test]
    fn species_tokens() {
        assert_eq!(parse_species("C").unwrap(), 6);
        assert_eq!(parse_species("CL").unwrap(), 17);
        assert_eq!(parse_species("8").unwrap(), 8);
        assert!(parse_species("0").is_err());
        assert!(parse_species("Xx").unwrap_err().contains("Xx"));
    }
}
