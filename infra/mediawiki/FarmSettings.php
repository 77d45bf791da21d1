<?php
// Settings every wiki of mbwa's test farm shares; included by each wiki's LocalSettings.php after the
// installer's, with $mbwaWikiDir set to that wiki's directory. Written for MediaWiki 1.39 (Debian).

// Wiktionary-like: first letter case-sensitive (MBWA_FARM_CAPITAL_LINKS=1 for Wikipedia-like).
$wgCapitalLinks = getenv( 'MBWA_FARM_CAPITAL_LINKS' ) === '1';
// [[fr:chat]] becomes a language link when fr is an interwiki prefix and a known language code.
$wgInterwikiMagic = true;
// A link to the wiki's own code is an ordinary link, as on Wikimedia.
$wgLocalInterwikis = [ $wgLanguageCode ];

// Bots edit without rate limits unless a test asks for one (bot-ratelimit below).
$wgGroupPermissions['bot']['noratelimit'] = true;
$wgPasswordAttemptThrottle = [];
$wgEnableUploads = false;
$wgEnableEmail = false;
$wgUseImageMagick = false;
$wgImageMagickConvertCommand = false;
$wgShowExceptionDetails = true;
$wgMainCacheType = CACHE_NONE;
$wgParserCacheType = CACHE_DB;

// Test switches, read on every request from files in the wiki's directory:
//   fake-lag       a number of seconds of replication lag the API reports (so maxlag=5 fails)
//   readonly       the wiki is read-only with that reason
//   bot-ratelimit  N: bots lose noratelimit and users get N edits per 60 s
//   no-bot-right   the bot group loses the bot right (an account whose bot flag was taken away)
$wgReadOnlyFile = "$mbwaWikiDir/readonly";
$wgHooks['ApiMaxLagInfo'][] = static function ( &$lagInfo ) use ( $mbwaWikiDir ) {
	$file = "$mbwaWikiDir/fake-lag";
	if ( is_readable( $file ) ) {
		$lagInfo = [ 'host' => 'fake-replica', 'lag' => (int)trim( file_get_contents( $file ) ), 'type' => 'db' ] + $lagInfo;
	}
};
if ( is_readable( "$mbwaWikiDir/bot-ratelimit" ) ) {
	$limit = (int)trim( file_get_contents( "$mbwaWikiDir/bot-ratelimit" ) );
	unset( $wgGroupPermissions['bot']['noratelimit'] );
	$wgRateLimits['edit']['user'] = [ $limit, 60 ];
	$wgRateLimits['edit']['newbie'] = [ $limit, 60 ];
}
if ( is_readable( "$mbwaWikiDir/no-bot-right" ) ) {
	$wgGroupPermissions['bot']['bot'] = false;
}
