<?php
// mbwa's stand-in for Wikimedia's Cognate (REL1_39), as far as langlinks can tell (notes/cognate-behaviour.md):
//   - one store of (site, key, title) for main-namespace pages, shared by the farm's wikis: a save (create, edit,
//     null edit) or an undeletion adds the title, a deletion removes it, a move removes the old title and adds the
//     new one (so the redirect a move leaves is not in the store; a page created as a redirect is);
//   - at parse time, a language link to every other site holding the title's key, for each language the text
//     does not already link (a written link wins, whatever title it names; the first spelling per site);
//   - when the store changes, the pages with that key on the other sites are purged (page_touched), nothing
//     more: their langlinks rows change only with their own links update, as with Cognate.
// The key is Cognate's: ’ (U+2019) and ʼ (U+02BC) as ', … as ..., spaces for underscores, NFC; no case folding.

use MediaWiki\Linker\LinkTarget;
use MediaWiki\Page\ProperPageIdentity;

class MbwaCognateHooks {
	/** @var PDO|null */
	private static $store = null;

	private static function store(): PDO {
		global $wgMbwaCognateStore;
		if ( self::$store === null ) {
			$pdo = new PDO( 'sqlite:' . $wgMbwaCognateStore );
			$pdo->setAttribute( PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION );
			$pdo->exec( 'PRAGMA busy_timeout = 20000' );
			$pdo->exec( 'CREATE TABLE IF NOT EXISTS cognate_titles (site TEXT NOT NULL, cgkey TEXT NOT NULL, title TEXT NOT NULL, PRIMARY KEY (site, title))' );
			$pdo->exec( 'CREATE INDEX IF NOT EXISTS cognate_titles_key ON cognate_titles (cgkey)' );
			self::$store = $pdo;
		}
		return self::$store;
	}

	public static function key( string $text ): string {
		$t = str_replace( [ "\u{2019}", "\u{02BC}", "\u{2026}", '_' ], [ "'", "'", '...', ' ' ], $text );
		return Normalizer::normalize( $t, Normalizer::FORM_C );
	}

	private static function site(): string {
		global $wgLanguageCode;
		return $wgLanguageCode;
	}

	/** The other sites' titles under a key, by site then title. */
	private static function elsewhere( string $key ): array {
		$q = self::store()->prepare( 'SELECT site, title FROM cognate_titles WHERE cgkey = ? AND site != ? ORDER BY site, title' );
		$q->execute( [ $key, self::site() ] );
		return $q->fetchAll( PDO::FETCH_NUM );
	}

	private static function add( int $ns, string $text ): void {
		if ( $ns !== NS_MAIN ) {
			return;
		}
		$key = self::key( $text );
		self::store()->prepare( 'INSERT OR IGNORE INTO cognate_titles (site, cgkey, title) VALUES (?, ?, ?)' )
			->execute( [ self::site(), $key, str_replace( '_', ' ', $text ) ] );
		self::purgeElsewhere( $key );
	}

	private static function remove( int $ns, string $text ): void {
		if ( $ns !== NS_MAIN ) {
			return;
		}
		$key = self::key( $text );
		self::store()->prepare( 'DELETE FROM cognate_titles WHERE site = ? AND title = ?' )
			->execute( [ self::site(), str_replace( '_', ' ', $text ) ] );
		self::purgeElsewhere( $key );
	}

	/** Cognate's CacheUpdateJob: the HTML cache of the pages elsewhere, never their links. */
	private static function purgeElsewhere( string $key ): void {
		global $wgMbwaCognateWikis;
		$now = gmdate( 'YmdHis' );
		foreach ( self::elsewhere( $key ) as [ $site, $title ] ) {
			$file = $wgMbwaCognateWikis[$site] ?? null;
			if ( $file === null ) {
				continue;
			}
			$db = new PDO( 'sqlite:' . $file );
			$db->setAttribute( PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION );
			$db->exec( 'PRAGMA busy_timeout = 20000' );
			$db->prepare( 'UPDATE page SET page_touched = ? WHERE page_namespace = 0 AND page_title = ?' )
				->execute( [ $now, str_replace( ' ', '_', $title ) ] );
		}
	}

	public static function onContentAlterParserOutput( $content, $title, $parserOutput ) {
		if ( $title->getNamespace() !== NS_MAIN ) {
			return;
		}
		$linked = [];
		foreach ( $parserOutput->getLanguageLinks() as $link ) {
			$linked[explode( ':', $link, 2 )[0]] = true;
		}
		foreach ( self::elsewhere( self::key( $title->getText() ) ) as [ $site, $other ] ) {
			if ( isset( $linked[$site] ) ) {
				continue;
			}
			$linked[$site] = true;
			$parserOutput->addLanguageLink( "$site:$other" );
		}
	}

	public static function onPageSaveComplete( $wikiPage, $user, $summary, $flags, $revisionRecord, $editResult ) {
		$t = $wikiPage->getTitle();
		self::add( $t->getNamespace(), $t->getDBkey() );
	}

	public static function onPageDeleteComplete( ProperPageIdentity $page, $deleter, $reason, $pageID, $deletedRev, $logEntry, $archivedRevisionCount ) {
		self::remove( $page->getNamespace(), $page->getDBkey() );
	}

	public static function onArticleUndelete( $title, $create, $comment, $oldPageId, $restoredPages ) {
		self::add( $title->getNamespace(), $title->getDBkey() );
	}

	public static function onPageMoveComplete( LinkTarget $old, LinkTarget $new, $user, $pageid, $redirid, $reason, $revision ) {
		self::remove( $old->getNamespace(), $old->getDBkey() );
		self::add( $new->getNamespace(), $new->getDBkey() );
	}
}
