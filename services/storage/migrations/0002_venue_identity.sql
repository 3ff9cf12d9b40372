-- The market is part of a trade's identity: Binance spot and USDⓈ-M futures share symbols
-- (BTCUSDT) but not trade ids or prices, so a futures trade must never hide a spot one.
-- Every row stored before this migration came from the spot parser, hence 'binance'.
ALTER TABLE trades DROP CONSTRAINT trades_pkey;
ALTER TABLE trades ADD PRIMARY KEY (venue, symbol, trade_id);

ALTER TABLE latest_prices ADD COLUMN venue text NOT NULL DEFAULT 'binance';
ALTER TABLE latest_prices DROP CONSTRAINT latest_prices_pkey;
ALTER TABLE latest_prices ADD PRIMARY KEY (venue, symbol);
