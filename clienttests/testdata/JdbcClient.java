// Drives HeliosDB-Lite through Debian's PostgreSQL JDBC driver, as an
// application would. Run by TestJDBC: java -cp postgresql.jar:DIR JdbcClient URL.
// Prints "ok <check>" per passed check and "rs ..." lines the Go test
// compares; exits 1 on the first failure.
import java.math.BigDecimal;
import java.sql.*;
import java.time.*;
import java.util.*;

public class JdbcClient {
    static void expect(Object got, Object want, String what) {
        if (!Objects.equals(got, want)) {
            throw new AssertionError(what + ": got " + got + ", want " + want);
        }
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", "postgres");
        // Force server-side prepared statements from the first execution.
        props.setProperty("prepareThreshold", args.length > 1 ? args[1] : "1");
        try (Connection c = DriverManager.getConnection(args[0], props)) {
            run(c);
        }
        System.out.println("done");
    }

    static void run(Connection c) throws Exception {
        DatabaseMetaData md = c.getMetaData();
        System.out.println("ok connect " + md.getDatabaseProductName());
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE j_types (id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision, "
                + "n numeric(12,4), b boolean, t text, vc varchar(20), ch char(5), ba bytea, d date, ts timestamp, "
                + "tstz timestamptz, u uuid, j json, jb jsonb)");
        }
        System.out.println("ok create");

        UUID u = UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        String ins = "INSERT INTO j_types VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?::json,?::jsonb)";
        for (int round = 0; round < 3; round++) { // past prepareThreshold
            try (PreparedStatement p = c.prepareStatement(ins)) {
                p.setInt(1, 1 + round * 10);
                p.setShort(2, (short) 7);
                p.setLong(3, 9007199254740993L);
                p.setFloat(4, 1.5f);
                p.setDouble(5, 2.25);
                p.setBigDecimal(6, new BigDecimal("12345678.1234"));
                p.setBoolean(7, true);
                p.setString(8, "héllo 'q'");
                p.setString(9, "vc");
                p.setString(10, "ab");
                p.setBytes(11, new byte[] {0, 1, (byte) 0xff});
                p.setDate(12, java.sql.Date.valueOf("2026-11-21"));
                p.setTimestamp(13, Timestamp.valueOf("2026-11-21 19:02:05.946"));
                p.setObject(14, OffsetDateTime.of(2026, 11, 21, 21, 2, 5, 946000000, ZoneOffset.ofHours(2)));
                p.setObject(15, u);
                p.setString(16, "{\"a\": [1, 2]}");
                p.setString(17, "{\"k\": \"v\"}");
                expect(p.executeUpdate(), 1, "insert count");
            }
        }
        try (PreparedStatement p = c.prepareStatement(ins)) {
            p.setInt(1, 2);
            int[] types = {Types.SMALLINT, Types.BIGINT, Types.REAL, Types.DOUBLE, Types.NUMERIC, Types.BOOLEAN,
                Types.VARCHAR, Types.VARCHAR, Types.CHAR, Types.BINARY, Types.DATE, Types.TIMESTAMP,
                Types.TIMESTAMP_WITH_TIMEZONE, Types.OTHER, Types.VARCHAR, Types.VARCHAR};
            for (int i = 0; i < types.length; i++) p.setNull(i + 2, types[i]);
            p.executeUpdate();
        }
        System.out.println("ok prepared insert");

        for (int round = 0; round < 3; round++) {
            try (PreparedStatement p = c.prepareStatement("SELECT * FROM j_types WHERE id = ?")) {
                p.setInt(1, 1 + round * 10);
                try (ResultSet rs = p.executeQuery()) {
                    if (!rs.next()) throw new AssertionError("no row");
                    expect(rs.getShort(2), (short) 7, "int2");
                    expect(rs.getLong(3), 9007199254740993L, "int8");
                    expect(rs.getFloat(4), 1.5f, "float4");
                    expect(rs.getDouble(5), 2.25, "float8");
                    expect(rs.getBigDecimal(6), new BigDecimal("12345678.1234"), "numeric");
                    expect(rs.getBoolean(7), true, "bool");
                    expect(rs.getString(8), "héllo 'q'", "text");
                    expect(rs.getString(9), "vc", "varchar");
                    expect(rs.getString(10), "ab   ", "char");
                    expect(Arrays.toString(rs.getBytes(11)), "[0, 1, -1]", "bytea");
                    expect(rs.getDate(12).toString(), "2026-11-21", "date");
                    expect(rs.getObject(12, LocalDate.class), LocalDate.of(2026, 11, 21), "LocalDate");
                    expect(rs.getTimestamp(13), Timestamp.valueOf("2026-11-21 19:02:05.946"), "timestamp");
                    expect(rs.getObject(13, LocalDateTime.class), LocalDateTime.of(2026, 11, 21, 19, 2, 5, 946000000), "LocalDateTime");
                    expect(rs.getObject(14, OffsetDateTime.class).toInstant(), Instant.parse("2026-11-21T19:02:05.946Z"), "timestamptz");
                    expect(rs.getObject(15), u, "uuid");
                    expect(rs.getString(16), "{\"a\": [1, 2]}", "json");
                    expect(rs.getString(17), "{\"k\": \"v\"}", "jsonb");
                    if (rs.next()) throw new AssertionError("extra row");
                }
            }
        }
        try (PreparedStatement p = c.prepareStatement("SELECT * FROM j_types WHERE id = ?")) {
            p.setInt(1, 2);
            try (ResultSet rs = p.executeQuery()) {
                rs.next();
                for (int i = 2; i <= 17; i++) {
                    if (rs.getObject(i) != null || !rs.wasNull()) throw new AssertionError("column " + i + " not NULL");
                }
            }
        }
        // Typed parameters in predicates: timestamptz and date bound from Java.
        try (PreparedStatement p = c.prepareStatement("SELECT count(*) FROM j_types WHERE tstz = ? AND d = ? AND ts < ?")) {
            p.setObject(1, OffsetDateTime.parse("2026-11-21T19:02:05.946Z"));
            p.setDate(2, java.sql.Date.valueOf("2026-11-21"));
            p.setTimestamp(3, Timestamp.valueOf("2027-01-01 00:00:00"));
            try (ResultSet rs = p.executeQuery()) {
                rs.next();
                expect(rs.getInt(1), 3, "typed predicates");
            }
        }
        System.out.println("ok prepared select");

        try (PreparedStatement p = c.prepareStatement("SELECT id, t AS label, n, tstz FROM j_types WHERE id = 1");
             ResultSet rs = p.executeQuery()) {
            ResultSetMetaData m = rs.getMetaData();
            StringBuilder sb = new StringBuilder("rs meta");
            for (int i = 1; i <= m.getColumnCount(); i++) {
                sb.append(' ').append(m.getColumnLabel(i)).append(':').append(m.getColumnTypeName(i))
                  .append(':').append(m.getColumnType(i));
            }
            System.out.println(sb);
        }

        try (ResultSet rs = md.getTables(null, "public", "j_%", new String[] {"TABLE"})) {
            List<String> names = new ArrayList<>();
            while (rs.next()) names.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
            System.out.println("rs tables " + String.join(",", names));
        }
        try (ResultSet rs = md.getColumns(null, "public", "j_types", "%")) {
            List<String> cols = new ArrayList<>();
            while (rs.next()) cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("DATA_TYPE") + ":" + rs.getString("IS_NULLABLE"));
            System.out.println("rs columns " + String.join(",", cols));
        }
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE jk_pair (a text, b int, note text, PRIMARY KEY (b, a))");
        }
        for (String tbl : new String[] {"j_types", "jk_pair"}) {
            try (ResultSet rs = md.getPrimaryKeys(null, "public", tbl)) {
                List<String> keys = new ArrayList<>();
                while (rs.next()) keys.add(rs.getString("TABLE_NAME") + "." + rs.getString("COLUMN_NAME") + ":" + rs.getInt("KEY_SEQ") + ":" + rs.getString("PK_NAME"));
                System.out.println("rs pkeys " + String.join(",", keys));
            }
        }
        System.out.println("ok metadata");

        // Transactions.
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE j_acc (id int PRIMARY KEY, bal bigint NOT NULL)");
        }
        c.setAutoCommit(false);
        try (PreparedStatement p = c.prepareStatement("INSERT INTO j_acc VALUES (?, ?)")) {
            for (int i = 1; i <= 100; i++) {
                p.setInt(1, i);
                p.setLong(2, i * 10L);
                p.addBatch();
            }
            int[] counts = p.executeBatch();
            expect(counts.length, 100, "batch size");
            for (int n : counts) expect(n, 1, "batch count");
        }
        c.rollback();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM j_acc")) {
            rs.next();
            expect(rs.getInt(1), 0, "rolled back batch");
        }
        c.commit();
        try (PreparedStatement p = c.prepareStatement("INSERT INTO j_acc VALUES (?, ?)")) {
            for (int i = 1; i <= 100; i++) {
                p.setInt(1, i);
                p.setLong(2, i * 10L);
                p.addBatch();
            }
            p.executeBatch();
        }
        c.commit();
        try (Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE j_acc SET bal = bal - 5 WHERE id = 1");
            try {
                s.executeUpdate("INSERT INTO j_acc VALUES (2, 0)");
                throw new AssertionError("duplicate accepted");
            } catch (SQLException e) {
                expect(e.getSQLState(), "23505", "unique sqlstate");
            }
            try {
                s.executeQuery("SELECT 1");
                throw new AssertionError("no 25P02");
            } catch (SQLException e) {
                expect(e.getSQLState(), "25P02", "aborted tx sqlstate");
            }
            c.rollback();
            try (ResultSet rs = s.executeQuery("SELECT count(*), sum(bal) FROM j_acc")) {
                rs.next();
                expect(rs.getInt(1), 100, "committed batch");
                expect(rs.getLong(2), 50500L, "sum after rollback");
            }
            c.commit();
        }
        c.setAutoCommit(true);
        System.out.println("ok transactions");

        try (Statement s = c.createStatement()) {
            try {
                s.executeQuery("SELEC 1");
                throw new AssertionError("syntax accepted");
            } catch (SQLException e) {
                expect(e.getSQLState(), "42601", "syntax sqlstate");
                System.out.println("rs error " + e.getMessage().split("\n")[0]);
            }
        }
        System.out.println("ok errors");

        // Floats in text format: pgjdbc parses PostgreSQL's spellings
        // (Infinity, -Infinity, NaN, 1e+308) and rejects others ("+Inf").
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT 'Infinity'::float8, '-Infinity'::real, 'NaN'::float8, 1e308::float8, 1.1::real, 1e6::real")) {
            rs.next();
            System.out.println("rs floats " + rs.getDouble(1) + " " + rs.getFloat(2) + " " + rs.getDouble(3) + " " +
                rs.getDouble(4) + " " + rs.getFloat(5) + " " + rs.getFloat(6) + " " + rs.getString(6));
        }
    }
}
