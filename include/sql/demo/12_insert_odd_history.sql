-- Insert the odd but legal history rows a real log accumulates, at most %(rows)s of them:
-- 5 with very large metadata (a bulk import's error report, about 100 KB, well below the
-- 1 MiB payload limit), 12 with unusual unicode in description and metadata (emoji, ZWJ
-- sequences, right-to-left scripts, combining characters) and 5 system rows with no actor,
-- no request and empty metadata. They map cleanly to events; none is "bad".
-- Not idempotent: every run adds rows. Locks: ROW EXCLUSIVE on public.activity_logs.
WITH templates AS MATERIALIZED (
    SELECT kind, k, 1 + floor(random() * %(choices)s::int)::int AS n
    FROM (SELECT 'large' AS kind, g AS k FROM generate_series(1, 5) AS g
          UNION ALL SELECT 'unicode', g FROM generate_series(1, 12) AS g
          UNION ALL SELECT 'system', g FROM generate_series(1, 5) AS g) AS t
    LIMIT %(rows)s::int
), picked AS (
    SELECT t.kind, t.k, c.*
    FROM templates t
    JOIN seed_choices c ON c.n = t.n
)
INSERT INTO public.activity_logs
    (user_id, customer_id, action, entity_type, entity_id, description, metadata, ip_address, user_agent, created_at)
SELECT CASE WHEN p.kind = 'system' THEN NULL ELSE p.actor END,
       p.customer_id,
       CASE WHEN p.kind = 'large' THEN 'updated' ELSE p.action END,
       CASE WHEN p.kind = 'large' THEN 'bulk_operation' ELSE p.entity_type END,
       CASE WHEN p.kind = 'large' THEN gen_random_uuid()::text ELSE p.entity_id END,
       CASE p.kind
           WHEN 'large' THEN 'Bulk operation import_investors finished with ' || 1400 || ' rejected rows'
           WHEN 'unicode' THEN (ARRAY[
               'Projet « Résidences Zoë » créé 🚀🏗️',
               'Investor 👩‍👩‍👧‍👦 family office Nguyễn joined',
               'تم تحديث خطة الدفع للمستثمر محمد',
               'עודכן מסמך ההשקעה של שרה כהן',
               'Zalgo check: Z̷̢͎a̸͓̽l̵̰͝g̶̙̓o̵̧͑ ̴̰̎s̷̖̈́a̵̪͝y̴̱̆s̶̱͆ ̸̬̿h̴͍̀i̴̹͐',
               'Combining: e' || U&'\0301' || ' vs é; A' || U&'\030A' || ' vs Å',
               'Mixed ltr/rtl: payment ‏123‎ for שלום world 🌍',
               '日本語の説明: トークン発行が完了しました ✅',
               'Emoji flags 🇺🇸🇩🇪🇯🇵 and skin tones 👍🏽👍🏿',
               'Math 𝔸𝕃𝕃 𝕆𝕂 and ℌ𝔢𝔩𝔩𝔬 ∑∞≠',
               'Zero-width: a' || U&'\200B' || 'b' || U&'\200D' || 'c' || U&'\FEFF' || 'd',
               'Ελληνικά και Кириллица: Платёж получен'
           ])[1 + mod(p.k - 1, 12)]
           ELSE 'System: scheduled maintenance touched ' || p.entity_type || ' ' || p.entity_id
       END,
       CASE p.kind
           WHEN 'large' THEN jsonb_build_object(
               'operation', 'import_investors',
               'row_count', 1400,
               'errors', (SELECT jsonb_agg(jsonb_build_object(
                              'row', g,
                              'field', 'email',
                              'message', 'address rejected by validator: mailbox unavailable on mx host',
                              'value', 'investor' || g || '@invalid.example'))
                          FROM generate_series(1, 700 + p.k) AS g))
           WHEN 'unicode' THEN p.metadata || jsonb_build_object(
               'note', '✨ ñ ü ø 漢字 한국어 עברית العربية',
               '🔑 key', 'value with emoji 🎉',
               'rtl', 'مرحبا بالعالم',
               'combining', 'n' || U&'\0303' || 'o' || U&'\0308')
           ELSE '{}'::jsonb
       END,
       CASE WHEN p.kind = 'system' THEN NULL ELSE '198.51.100.77'::inet END,
       CASE WHEN p.kind = 'system' THEN NULL ELSE 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' END,
       now() - random() * interval '700 days'
FROM picked p;
