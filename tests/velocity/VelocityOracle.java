// The oracle of the differential test: renders every case of a corpus file
// with Apache Velocity 1.7 (Debian's `velocity` package) and prints one
// result line per case:
//   <name> TAB ok|error TAB base64(output or error class)
// Usage: java -cp velocity.jar:commons-collections3.jar:commons-lang.jar:DIR
//        VelocityOracle corpus.txt > oracle.tsv
// The corpus format is read by tests/velocity/velocity_diff.cc too (see the
// comment at the top of corpus.txt). No JSON library is available, so a
// small parser builds the context: objects become LinkedHashMap (document
// order), arrays ArrayList, integers Integer (Long when out of range),
// other numbers Double, true/false Boolean, null is left out.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;

public final class VelocityOracle {
  public static void main(String[] args) throws Exception {
    String text = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
    List<String[]> cases = parseCorpus(text);
    VelocityEngine engine = new VelocityEngine();
    engine.setProperty("runtime.log.logsystem.class",
                       "org.apache.velocity.runtime.log.NullLogChute");
    engine.init();
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    Base64.Encoder b64 = Base64.getEncoder();
    for (String[] c : cases) {
      String name = c[0], context = c[1], template = c[2];
      String status, body;
      try {
        Object parsed = new Json(context).parse();
        @SuppressWarnings("unchecked")
        Map<String, Object> vars = (Map<String, Object>) parsed;
        VelocityContext ctx = new VelocityContext(new HashMap<String, Object>(vars));
        StringWriter w = new StringWriter();
        engine.evaluate(ctx, w, name, template);
        status = "ok";
        body = w.toString();
      } catch (Exception e) {
        status = "error";
        body = e.getClass().getSimpleName();
      }
      out.println(name + "\t" + status + "\t"
                  + b64.encodeToString(body.getBytes(StandardCharsets.UTF_8)));
    }
  }

  // Cases: {name, context JSON, template}. See corpus.txt for the format.
  static List<String[]> parseCorpus(String text) {
    List<String[]> cases = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    String name = null, section = null;
    StringBuilder context = new StringBuilder(), template = new StringBuilder();
    for (int i = 0; i <= lines.length; i++) {
      String line = i < lines.length ? lines[i] : "=== end";
      if (line.startsWith("=== ")) {
        if (name != null) cases.add(new String[] {name, context.length() == 0 ? "{}" : context.toString(), trimLast(template)});
        name = line.substring(4).trim();
        section = null;
        context.setLength(0);
        template.setLength(0);
      } else if (line.startsWith("--- ")) {
        section = line.substring(4).trim();
        if (section.startsWith("differs")) section = "differs";
      } else if (name != null && "context".equals(section)) {
        context.append(line).append('\n');
      } else if (name != null && "template".equals(section)) {
        template.append(line).append('\n');
      }
    }
    return cases;
  }

  // The section's text without the newline that ends its last line.
  static String trimLast(StringBuilder b) {
    String s = b.toString();
    return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
  }

  static final class Json {
    private final String s;
    private int i = 0;
    Json(String s) { this.s = s; }

    Object parse() {
      Object v = value();
      ws();
      if (i != s.length()) throw new IllegalArgumentException("trailing data");
      return v;
    }

    private void ws() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }

    private Object value() {
      ws();
      char c = s.charAt(i);
      if (c == '{') {
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        ws();
        if (s.charAt(i) == '}') { i++; return m; }
        while (true) {
          ws();
          String k = string();
          ws();
          i++;  // ':'
          Object v = value();
          if (v != null) m.put(k, v);
          ws();
          if (s.charAt(i++) == '}') return m;
        }
      }
      if (c == '[') {
        i++;
        List<Object> l = new ArrayList<>();
        ws();
        if (s.charAt(i) == ']') { i++; return l; }
        while (true) {
          l.add(value());
          ws();
          if (s.charAt(i++) == ']') return l;
        }
      }
      if (c == '"') return string();
      if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
      if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
      if (s.startsWith("null", i)) { i += 4; return null; }
      int start = i;
      while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
      String num = s.substring(start, i);
      if (num.contains(".") || num.contains("e") || num.contains("E")) return Double.valueOf(num);
      long n = Long.parseLong(num);
      if (n >= Integer.MIN_VALUE && n <= Integer.MAX_VALUE) return Integer.valueOf((int) n);
      return Long.valueOf(n);
    }

    private String string() {
      StringBuilder b = new StringBuilder();
      i++;  // '"'
      while (true) {
        char c = s.charAt(i++);
        if (c == '"') return b.toString();
        if (c != '\\') { b.append(c); continue; }
        char e = s.charAt(i++);
        switch (e) {
          case 'n': b.append('\n'); break;
          case 't': b.append('\t'); break;
          case 'r': b.append('\r'); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
          default: b.append(e);
        }
      }
    }
  }
}
